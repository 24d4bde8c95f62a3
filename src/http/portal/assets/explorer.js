// The API explorer in place: "Get a token" and "Try it" post their forms with fetch and show
// the answer in the operation's card instead of reloading the page. The token lives only in the
// page (the form fields); it is never put in a URL or in storage.

async function post(form) {
  const response = await fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)), headers: { accept: 'application/json' }, credentials: 'same-origin' });
  if (!(response.headers.get('content-type') ?? '').includes('application/json')) throw new Error('The page expired: reload it and try again.');
  return { ok: response.ok, answer: await response.json() };
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function utc(iso) {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

for (const form of document.querySelectorAll('form.mint')) {
  const id = `op-${form.dataset.op}`;
  const status = document.getElementById(`${id}-minted`);
  const tokenField = document.getElementById(`${id}-token`);
  const inspect = tokenField.closest('details').querySelector('form.inspect');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.replaceChildren(element('p', 'Getting a token…'));
    try {
      const { ok, answer } = await post(form);
      if (!ok) return status.replaceChildren(element('p', answer.error, 'error'));
      tokenField.value = answer.token;
      inspect.querySelector('input[name=token]').value = answer.token;
      inspect.hidden = false;
      status.replaceChildren(element('p', `A token for ${answer.scopes.join(' ') || 'no scope'}, valid until ${utc(answer.expiresAt)}. It is filled in below; it is shown only on this page.`, 'notice'));
    } catch (err) {
      status.replaceChildren(element('p', err.message, 'error'));
    }
  });
}

function showAnswer(result, answer) {
  if (answer.kind !== 'answered') {
    const refusal = element('p', answer.message ?? answer.error, 'error');
    refusal.setAttribute('role', 'alert');
    return result.replaceChildren(refusal);
  }
  const heading = element('h4', `Response: ${answer.status} ${answer.statusText}`);
  heading.tabIndex = -1;
  const headers = document.createElement('details');
  headers.append(element('summary', `Headers (${answer.headers.length})`));
  const wrap = element('div', undefined, 'table-wrap');
  wrap.tabIndex = 0;
  wrap.setAttribute('role', 'region');
  wrap.setAttribute('aria-label', 'Response headers');
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  for (const name of ['Name', 'Value']) {
    const th = element('th', name);
    th.scope = 'col';
    head.append(th);
  }
  const body = table.createTBody();
  for (const [name, value] of answer.headers) {
    const tr = body.insertRow();
    tr.insertCell().append(element('code', name));
    tr.insertCell().append(element('code', value));
  }
  wrap.append(table);
  headers.append(wrap);
  const parts = [heading, headers];
  if (answer.body === '') parts.push(element('p', 'No body.', 'muted'));
  else {
    const pre = document.createElement('pre');
    pre.tabIndex = 0;
    pre.setAttribute('role', 'region');
    pre.setAttribute('aria-label', 'Response body');
    pre.append(element('code', answer.body));
    parts.push(pre);
  }
  if (answer.truncated) parts.push(element('p', 'The body was cut off after 256 KiB.', 'muted'));
  result.replaceChildren(...parts);
  // The answer can be long: focus its heading, so a screen reader starts there and a keyboard user is at it.
  heading.focus();
}

for (const form of document.querySelectorAll('form.try')) {
  const result = document.getElementById(`op-${form.dataset.op}-result`);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    result.replaceChildren(element('p', 'Sending through the gateway…'));
    try {
      const { answer } = await post(form);
      showAnswer(result, answer);
    } catch (err) {
      result.replaceChildren(element('p', err.message, 'error'));
    }
  });
}
