// Starts Swagger UI on /docs with this service's OpenAPI document (served as a file: the page's
// Content-Security-Policy allows no inline script).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "StandaloneLayout",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    validatorUrl: null,
    tryItOutEnabled: false,
    displayRequestDuration: true
  });
});
