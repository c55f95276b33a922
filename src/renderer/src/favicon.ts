/**
 * The window/tab icon, added at startup because index.html (shared with the desktop shell)
 * declares none and browsers would otherwise ask the server for /favicon.ico and log a 404.
 * A data: URL keeps to the CSP (img-src allows data:).
 */
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="8.5" y="4" width="15" height="15" rx="3.2" fill="#2f6ff0"/><path d="M11.5 9.5h9M11.5 13h6" stroke="#fff" stroke-width="1.8" stroke-linecap="round"/><path d="M3 17.5c2.5 7 7.5 10 13 10s10.5-3 13-10" fill="none" stroke="#c68a3c" stroke-width="2.6" stroke-linecap="round"/><path d="M2.5 17.5h27" stroke="#a86f2a" stroke-width="2.2" stroke-linecap="round"/></svg>`;

export function installFavicon(): void {
  if (document.querySelector('link[rel~="icon"]')) return;
  const link = document.createElement('link');
  link.rel = 'icon';
  link.type = 'image/svg+xml';
  link.href = `data:image/svg+xml,${encodeURIComponent(SVG)}`;
  document.head.append(link);
}
