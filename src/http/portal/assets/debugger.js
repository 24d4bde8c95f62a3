// The token debugger: decodes the pasted token here, in the browser, as it is typed; on submit
// only the verify call goes to the server, with the token in the POST body (never in a URL).
import { decodeJwt, expiryInWords } from './jwt-decode.js';

const form = document.getElementById('debugger');
const field = document.getElementById('token');
const header = document.getElementById('jwt-header');
const claims = document.getElementById('jwt-claims');
const expiry = document.getElementById('jwt-expiry');
const verdict = document.getElementById('verdict');

function decode() {
  const token = field.value.trim();
  if (token === '') {
    header.textContent = claims.textContent = expiry.textContent = '';
    return false;
  }
  try {
    const decoded = decodeJwt(token);
    header.textContent = JSON.stringify(decoded.header, null, 2);
    claims.textContent = JSON.stringify(decoded.claims, null, 2);
    expiry.textContent = typeof decoded.claims.exp === 'number' ? expiryInWords(decoded.claims.exp, Date.now()) : 'No exp claim: Keygate accepts no token without one.';
  } catch (err) {
    header.textContent = `Not a JWT: ${err.message}.`;
    claims.textContent = expiry.textContent = '';
  }
  return true;
}

function row(list, term, value) {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

function showVerdict(answer) {
  verdict.replaceChildren();
  const lead = document.createElement('p');
  const strong = document.createElement('strong');
  strong.textContent = answer.valid ? 'Valid' : 'Not valid';
  lead.append(strong, `: ${answer.reason}`);
  const list = document.createElement('dl');
  list.className = 'verdict';
  const yesNo = (value) => (value === null ? 'not checked' : value ? 'yes' : 'no');
  row(list, 'Signature', answer.signatureValid ? 'valid' : 'invalid');
  row(list, 'Expired', yesNo(answer.expired));
  row(list, 'Revoked', yesNo(answer.revoked));
  verdict.append(lead, list);
}

function showMessage(text) {
  const p = document.createElement('p');
  p.className = 'error';
  p.textContent = text;
  verdict.replaceChildren(p);
}

field.addEventListener('input', () => {
  decode();
  verdict.replaceChildren();
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!decode()) return;
  verdict.textContent = 'Checking…';
  try {
    const response = await fetch(form.dataset.verify, { method: 'POST', body: new URLSearchParams(new FormData(form)), headers: { accept: 'application/json' }, credentials: 'same-origin' });
    if (!(response.headers.get('content-type') ?? '').includes('application/json')) return showMessage('The page expired: reload it and try again.');
    const answer = await response.json();
    if (!response.ok) return showMessage(answer.error);
    showVerdict(answer);
  } catch {
    showMessage('The check could not reach the server: try again.');
  }
});

decode();
