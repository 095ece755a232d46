// Mounts Swagger UI (public/swagger-ui, vendored from swagger-ui-dist) on /docs/api, reading
// the document this server serves; no validator badge, which would call another site.
(function () {
  var spec = document.currentScript.getAttribute("data-spec");
  window.addEventListener("DOMContentLoaded", function () {
    window.SwaggerUIBundle({ url: spec, dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null });
  });
})();
