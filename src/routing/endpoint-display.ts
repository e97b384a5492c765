// Endpoints as status, Events and logs may show them: without userinfo, query
// or fragment. The schema already refuses credentials in spec.endpoint; this
// is the second wall, for text that reaches status by another road (an older
// object stored before the rule, an error message quoting a URL).

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/i;
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;

/** The URL without `user:key@`, `?query` or `#fragment`. */
export function displayEndpoint(url: string): string {
  return url.replace(USERINFO, '$1').replace(/[?#].*$/s, '');
}

/** Every URL inside free text (an error message) shown as displayEndpoint shows it. */
export function scrubUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => displayEndpoint(url));
}
