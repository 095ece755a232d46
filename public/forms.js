// Settle's form helper, loaded by every page. Pages work without it: forms post and the server
// answers with a redirect. What it adds: once a form is sent, its submit button is disabled and
// says what is happening (its data-busy text: "Paying…", "Working…"), so nobody presses twice
// while the server talks to the bank.
(function () {
  'use strict';

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement)) return;
    if (form.hasAttribute('data-sent')) {
      // Already on its way: a second press or Enter must not send it again.
      event.preventDefault();
      return;
    }
    var button = event.submitter || form.querySelector('button[type="submit"]');
    if (!button || !button.hasAttribute('data-busy')) return;
    form.setAttribute('data-sent', '');
    // After the browser has read the form (a disabled button would be left out of it).
    window.setTimeout(function () {
      button.setAttribute('data-idle', button.innerHTML);
      button.textContent = button.getAttribute('data-busy');
      button.disabled = true;
      form.setAttribute('aria-busy', 'true');
    }, 0);
  });

  // Back to a page kept in the browser's memory: its buttons work again.
  window.addEventListener('pageshow', function (event) {
    if (!event.persisted) return;
    document.querySelectorAll('form[data-sent]').forEach(function (form) {
      form.removeAttribute('data-sent');
      form.removeAttribute('aria-busy');
      form.querySelectorAll('button[data-idle]').forEach(function (button) {
        button.innerHTML = button.getAttribute('data-idle');
        button.removeAttribute('data-idle');
        button.disabled = false;
      });
    });
  });
})();
