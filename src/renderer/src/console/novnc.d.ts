/**
 * The part of noVNC's RFB class (docs/API.md of @novnc/novnc 1.x) that Nestbox uses. The
 * package ships plain ES modules without types; its package.json "exports" is core/rfb.js,
 * whose default export is RFB (the one default import in the renderer).
 */
declare module '@novnc/novnc' {
  export interface RfbOptions {
    readonly shared?: boolean;
    readonly credentials?: { readonly username?: string; readonly password?: string; readonly target?: string };
    readonly repeaterID?: string;
    readonly wsProtocols?: readonly string[];
  }

  export interface RfbEventMap {
    connect: CustomEvent<Record<string, never>>;
    disconnect: CustomEvent<{ readonly clean: boolean }>;
    clipboard: CustomEvent<{ readonly text: string }>;
    desktopname: CustomEvent<{ readonly name: string }>;
    securityfailure: CustomEvent<{ readonly status: number; readonly reason?: string }>;
    credentialsrequired: CustomEvent<{ readonly types: readonly string[] }>;
    capabilities: CustomEvent<{ readonly capabilities: { readonly power: boolean } }>;
    clippingviewport: CustomEvent<boolean>;
    bell: CustomEvent<Record<string, never>>;
  }

  /** Anything WebSocket-shaped (see websock.js `rawChannelProps`). */
  export interface RfbRawChannel {
    send(data: ArrayBuffer | ArrayBufferView): void;
    close(): void;
    binaryType: string;
    readonly protocol: string;
    readonly readyState: number | string;
    onopen: unknown;
    onmessage: unknown;
    onerror: unknown;
    onclose: unknown;
  }

  // eslint-disable-next-line no-restricted-syntax -- the package's own shape: RFB is its default export
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | RfbRawChannel, options?: RfbOptions);

    background: string;
    readonly capabilities: { readonly power: boolean };
    readonly clippingViewport: boolean;
    clipViewport: boolean;
    compressionLevel: number;
    dragViewport: boolean;
    focusOnClick: boolean;
    qualityLevel: number;
    resizeSession: boolean;
    scaleViewport: boolean;
    showDotCursor: boolean;
    viewOnly: boolean;

    /** Internal, but the only place the guest's framebuffer size is kept. */
    readonly _fbWidth: number;
    readonly _fbHeight: number;

    disconnect(): void;
    sendCredentials(credentials: { readonly username?: string; readonly password?: string; readonly target?: string }): void;
    sendKey(keysym: number, code: string | null, down?: boolean): void;
    sendCtrlAltDel(): void;
    focus(options?: FocusOptions): void;
    blur(): void;
    clipboardPasteFrom(text: string): void;
    toDataURL(type?: string, encoderOptions?: number): string;
    toBlob(callback: (blob: Blob | null) => void, type?: string, quality?: number): void;

    addEventListener<K extends keyof RfbEventMap>(type: K, listener: (ev: RfbEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
    addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
    removeEventListener<K extends keyof RfbEventMap>(type: K, listener: (ev: RfbEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
    removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
  }
}
