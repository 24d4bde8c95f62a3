// The OpenAPI form's file picker: reads the chosen file into the document textarea and picks
// the format from its name. Without this script the operator pastes the document; the form is
// the same either way. The file is read in the page only, never sent anywhere but the form.
for (const picker of document.querySelectorAll('input[type=file][data-read-into]')) {
  const field = picker.closest('.field');
  if (field) field.hidden = false;
  picker.addEventListener('change', async () => {
    const file = picker.files && picker.files[0];
    const target = document.getElementById(picker.dataset.readInto);
    const status = document.getElementById(`${picker.id}-status`);
    if (!file || !target) return;
    try {
      target.value = await file.text();
      const format = document.getElementById(picker.dataset.format ?? '');
      if (format) format.value = /\.ya?ml$/i.test(file.name) ? 'yaml' : /\.json$/i.test(file.name) ? 'json' : 'auto';
      if (status) status.textContent = `Read ${file.name} (${file.size} bytes) into the document field.`;
    } catch {
      if (status) status.textContent = 'The file could not be read: paste the document instead.';
    }
  });
}
