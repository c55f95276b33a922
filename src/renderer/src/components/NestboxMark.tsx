/** The app mark: a nest (three arcs) cradling a box, drawn inline for the strict CSP. */
export function NestboxMark({ size = 24 }: { readonly size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden focusable="false">
      <defs>
        <linearGradient id="nb-box" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor="#4f8cff" />
          <stop offset="1" stopColor="#2557d6" />
        </linearGradient>
      </defs>
      <rect x="8.5" y="4" width="15" height="15" rx="3.2" fill="url(#nb-box)" />
      <path d="M11.5 9.5h9M11.5 13h6" stroke="#ffffff" strokeWidth="1.8" strokeLinecap="round" opacity="0.9" />
      <path d="M3 17.5c2.5 7 7.5 10 13 10s10.5-3 13-10" fill="none" stroke="#c68a3c" strokeWidth="2.6" strokeLinecap="round" />
      <path d="M5.5 20.5c3 4 6.4 5.4 10.5 5.4s7.5-1.4 10.5-5.4" fill="none" stroke="#e0a85a" strokeWidth="1.8" strokeLinecap="round" />
      <path d="M2.5 17.5h27" stroke="#a86f2a" strokeWidth="2.2" strokeLinecap="round" />
    </svg>
  );
}
