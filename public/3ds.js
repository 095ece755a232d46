// Settle's 3-D Secure helper: the only script the card payment pages load. Everything it does
// also works without it (see app/src/pages/card_payment.rs).
//
// - In the challenge frame (/account/payments/{reference}/challenge/frame): submits seed 003's
//   form (creq + threeDSSessionData) to the bank's page at once, instead of waiting for the
//   customer to press "Continue to your bank".
// - In the challenge page around that frame: when the bank's flow ends on Settle's
//   PaymentComplete page, which calls window.parent.postMessage("PaymentComplete", "*"),
//   goes on to the payment's status page.
(function () {
  'use strict';

  var form = document.querySelector('form[data-autosubmit]');
  if (form) {
    var button = form.querySelector('button[type="submit"]');
    if (button) {
      button.disabled = true;
      button.textContent = 'Opening your bank\u2019s page\u2026';
    }
    form.submit();
  }

  var frame = document.querySelector('iframe[data-status-url]');
  if (frame) {
    var statusUrl = frame.getAttribute('data-status-url');
    window.addEventListener('message', function (event) {
      // Only Settle's own PaymentComplete page, inside this page's frame, may move us on.
      if (event.origin !== window.location.origin) return;
      if (event.source !== frame.contentWindow) return;
      if (event.data !== 'PaymentComplete') return;
      window.location.assign(statusUrl);
    });
  }
})();
