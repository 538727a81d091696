// Marks the page as having JavaScript (GOV.UK Frontend's progressive enhancement hooks), from a
// file rather than an inline script so the Content-Security-Policy needs no 'unsafe-inline'.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');
