// Copy buttons: <button data-copy="field-id"> copies the value of the field with that id.
// The secret stays in the page; it is never sent anywhere or stored.
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.hidden = false;
  button.addEventListener('click', async () => {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById(`${button.dataset.copy}-status`);
    try {
      await navigator.clipboard.writeText(field.value);
      if (status) status.textContent = 'Copied to the clipboard.';
    } catch {
      field.select();
      if (status) status.textContent = 'Select the key and copy it with your keyboard.';
    }
  });
}
