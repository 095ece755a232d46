// Settle's 3-D Secure helper, loaded by the challenge page and the pages inside its frame.
// Everything it does also works without it (see app/src/pages/account/challenge.rs).
//
// - In the challenge frame (/account/payments/{reference}/challenge/frame): submits seed 003's
//   form (creq + threeDSSessionData) to the bank's page at once, instead of waiting for the
//   customer to press "Continue to your bank".
// - In Settle's own end of the check inside the frame (a link marked data-leave-frame): tells
//   the page around the frame that the check is over, as the document's PaymentComplete page
//   does.
// - In the challenge page around that frame: when the frame says "PaymentComplete" (the
//   document's page calls window.parent.postMessage("PaymentComplete", "*")), goes on to the
//   payment's status page.
(function () {
  'use strict';

  var form = document.querySelector('form[data-autosubmit]');
  if (form) {
    var button = form.querySelector('button[type="submit"]');
    if (button) {
      button.disabled = true;
      button.textContent = button.getAttribute('data-busy') || 'Opening your bank\u2019s page\u2026';
    }
    form.submit();
  }

  if (document.querySelector('a[data-leave-frame]') && window.parent !== window) {
    window.parent.postMessage('PaymentComplete', window.location.origin);
  }

  var frame = document.querySelector('iframe[data-status-url]');
  if (frame) {
    var statusUrl = frame.getAttribute('data-status-url');
    window.addEventListener('message', function (event) {
      // Only a page of this site, inside this page's frame, may move us on.
      if (event.origin !== window.location.origin) return;
      if (event.source !== frame.contentWindow) return;
      if (event.data !== 'PaymentComplete') return;
      window.location.assign(statusUrl);
    });
  }
})();
