/**
 * The serial console: xterm.js on the guest's first serial port, with copy and paste
 * (Ctrl+Shift+C / Ctrl+Shift+V, or the context menu, as in a desktop terminal) and a search
 * over the whole log on disk, which also works after the VM stopped.
 */
import { useCallback, useEffect, useMemo, useRef, useState, type MouseEvent as ReactMouseEvent } from 'react';
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import Box from '@mui/material/Box';
import CircularProgress from '@mui/material/CircularProgress';
import Divider from '@mui/material/Divider';
import IconButton from '@mui/material/IconButton';
import InputAdornment from '@mui/material/InputAdornment';
import ListItemText from '@mui/material/ListItemText';
import Menu from '@mui/material/Menu';
import MenuItem from '@mui/material/MenuItem';
import TextField from '@mui/material/TextField';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import CloseRoundedIcon from '@mui/icons-material/CloseRounded';
import ContentCopyOutlinedIcon from '@mui/icons-material/ContentCopyOutlined';
import ContentPasteOutlinedIcon from '@mui/icons-material/ContentPasteOutlined';
import DeleteSweepOutlinedIcon from '@mui/icons-material/DeleteSweepOutlined';
import SearchIcon from '@mui/icons-material/Search';
import type { SerialLog } from '../../../core/api/contract';
import { useNotify } from '../components/Notifications';
import { MONO_STACK } from '../theme';
import { formatBytes } from '../util/format';
import { useConsoleActions } from '../actions/useConsoleActions';

export const TERMINAL_BG = '#0e1116';

const TERMINAL_THEME = {
  background: TERMINAL_BG,
  foreground: '#d5dae1',
  cursor: '#6ea8fe',
  cursorAccent: TERMINAL_BG,
  selectionBackground: '#6ea8fe61',
  black: '#1b1f27',
  red: '#f87171',
  green: '#4ade80',
  yellow: '#fbbf24',
  blue: '#60a5fa',
  magenta: '#c084fc',
  cyan: '#22d3ee',
  white: '#d5dae1',
  brightBlack: '#5b6474',
  brightRed: '#fca5a5',
  brightGreen: '#86efac',
  brightYellow: '#fde68a',
  brightBlue: '#93c5fd',
  brightMagenta: '#d8b4fe',
  brightCyan: '#67e8f9',
  brightWhite: '#ffffff',
};

// eslint-disable-next-line no-control-regex -- terminal escape sequences are what is stripped
const ESCAPES = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

/** A log line as plain text (its colours and cursor movements removed). */
export function plainLine(text: string): string {
  return text.replace(ESCAPES, '');
}

export interface SerialPanelProps {
  readonly vmRef: string;
  readonly vmName: string;
  readonly visible: boolean;
  /** Hands the terminal to the stream hook once it exists. */
  readonly onTerminal: (term: Terminal | null) => void;
  /** A message over the terminal (serial port disabled, ...), or null. */
  readonly overlay: string | null;
}

type SearchState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'searching'; readonly query: string }
  | { readonly kind: 'done'; readonly query: string; readonly log: SerialLog }
  | { readonly kind: 'failed'; readonly query: string; readonly message: string };

export function SerialPanel({ vmRef, vmName, visible, onTerminal, overlay }: SerialPanelProps) {
  const consoleActions = useConsoleActions();
  const notify = useNotify();
  const host = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const fitRef = useRef<FitAddon | null>(null);
  const searchRef = useRef<SearchAddon | null>(null);
  const [menu, setMenu] = useState<{ readonly x: number; readonly y: number; readonly hasSelection: boolean } | null>(null);
  const [query, setQuery] = useState('');
  const [search, setSearch] = useState<SearchState>({ kind: 'idle' });
  const [searchSeq, setSearchSeq] = useState(0);

  const copySelection = useCallback(() => {
    const text = termRef.current?.getSelection() ?? '';
    if (!text) return;
    navigator.clipboard?.writeText?.(text).catch(() => notify.warning('The browser did not allow writing to the clipboard.', 'Copy'));
  }, [notify]);

  const pasteClipboard = useCallback(() => {
    const term = termRef.current;
    if (!term) return;
    const read = navigator.clipboard?.readText?.();
    if (!read) return;
    read.then(
      (text) => {
        if (text) term.paste(text);
        term.focus();
      },
      () => notify.warning('The browser did not allow reading the clipboard here; press Ctrl+Shift+V in the terminal instead.', 'Paste'),
    );
  }, [notify]);

  // The terminal lives as long as the panel; streams come and go underneath it.
  useEffect(() => {
    const el = host.current;
    if (!el) return undefined;
    const term = new Terminal({
      scrollback: 10_000,
      fontFamily: MONO_STACK,
      fontSize: 13,
      lineHeight: 1.12,
      cursorBlink: true,
      theme: TERMINAL_THEME,
      allowProposedApi: false,
      macOptionIsMeta: true,
    });
    const fit = new FitAddon();
    const searchAddon = new SearchAddon();
    term.loadAddon(fit);
    term.loadAddon(searchAddon);
    term.open(el);
    term.attachCustomKeyEventHandler((e) => {
      const ctrlShift = e.ctrlKey && e.shiftKey && !e.altKey && !e.metaKey;
      if (ctrlShift && e.code === 'KeyC') {
        if (e.type === 'keydown') {
          e.preventDefault();
          copySelection();
        }
        return false;
      }
      // Left to the browser: its paste event reaches xterm, which sends the text.
      if (ctrlShift && e.code === 'KeyV') return false;
      return true;
    });
    termRef.current = term;
    fitRef.current = fit;
    searchRef.current = searchAddon;
    const ro = new ResizeObserver(() => {
      if (el.offsetWidth > 0 && el.offsetHeight > 0) fit.fit();
    });
    ro.observe(el);
    onTerminal(term);
    return () => {
      ro.disconnect();
      onTerminal(null);
      termRef.current = null;
      fitRef.current = null;
      searchRef.current = null;
      term.dispose();
    };
  }, [onTerminal, copySelection]);

  useEffect(() => {
    if (!visible) return;
    const el = host.current;
    if (el && el.offsetWidth > 0) fitRef.current?.fit();
    termRef.current?.focus();
  }, [visible]);

  // Search the log on disk, shortly after typing stops.
  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setSearch({ kind: 'idle' });
      return undefined;
    }
    let cancelled = false;
    const t = setTimeout(() => {
      setSearch({ kind: 'searching', query: q });
      consoleActions.serialLog({ ref: vmRef, query: q }).then(
        (log) => {
          if (!cancelled) setSearch({ kind: 'done', query: q, log });
        },
        (err: unknown) => {
          if (!cancelled) setSearch({ kind: 'failed', query: q, message: err instanceof Error ? err.message : String(err) });
        },
      );
    }, 250);
    return () => {
      cancelled = true;
      clearTimeout(t);
    };
  }, [consoleActions, vmRef, query, searchSeq]);

  const findInTerminal = (text: string, backwards = false) => {
    const s = searchRef.current;
    if (!s || !text) return;
    const found = backwards ? s.findPrevious(text) : s.findNext(text);
    if (!found) notify.warning('That line is older than what the terminal keeps; the list shows it from the log on disk.', 'Not in the terminal');
  };

  const onContextMenu = (e: ReactMouseEvent) => {
    e.preventDefault();
    setMenu({ x: e.clientX, y: e.clientY, hasSelection: termRef.current?.hasSelection() ?? false });
  };

  const q = query.trim();
  const matches = search.kind === 'done' ? search.log.matches : [];

  return (
    <Box sx={{ flex: 1, minHeight: 0, display: 'flex', flexDirection: 'column' }}>
      <Box
        sx={{
          display: 'flex',
          alignItems: 'center',
          gap: 0.5,
          px: 1,
          py: 0.75,
          borderBottom: 1,
          borderColor: 'divider',
          bgcolor: 'background.paper',
          flex: 'none',
        }}
      >
        <TextField
          type="search"
          placeholder="Search the serial log"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              setSearchSeq((n) => n + 1);
              findInTerminal(q, e.shiftKey);
            } else if (e.key === 'Escape' && query) {
              e.preventDefault();
              setQuery('');
            }
          }}
          fullWidth={false}
          sx={{ width: 320 }}
          slotProps={{
            htmlInput: { 'aria-label': 'Search serial log' },
            input: {
              startAdornment: (
                <InputAdornment position="start">
                  <SearchIcon fontSize="small" />
                </InputAdornment>
              ),
            },
          }}
        />
        <Typography variant="caption" color="text.secondary" aria-live="polite" sx={{ ml: 1, minWidth: 0, whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' }}>
          {search.kind === 'searching'
            ? 'Searching…'
            : search.kind === 'done'
              ? `${matches.length.toLocaleString()}${search.log.truncated ? '+' : ''} matching ${matches.length === 1 ? 'line' : 'lines'} in ${formatBytes(search.log.size)} of log`
              : search.kind === 'failed'
                ? `Search failed: ${search.message}`
                : 'Searches the whole log on disk, also after the VM stopped'}
        </Typography>
        <Box sx={{ flex: 1 }} />
        <Tooltip title="Copy the selection (Ctrl+Shift+C)">
          <IconButton aria-label="Copy" onClick={copySelection}>
            <ContentCopyOutlinedIcon fontSize="small" />
          </IconButton>
        </Tooltip>
        <Tooltip title="Paste into the guest (Ctrl+Shift+V)">
          <IconButton aria-label="Paste" onClick={pasteClipboard}>
            <ContentPasteOutlinedIcon fontSize="small" />
          </IconButton>
        </Tooltip>
        <Tooltip title="Clear the terminal (the log on disk is kept)">
          <IconButton aria-label="Clear terminal" onClick={() => termRef.current?.clear()}>
            <DeleteSweepOutlinedIcon fontSize="small" />
          </IconButton>
        </Tooltip>
      </Box>
      <Box sx={{ flex: 1, minHeight: 0, display: 'flex' }}>
        <Box sx={{ position: 'relative', flex: 1, minWidth: 0, bgcolor: TERMINAL_BG }}>
          <Box
            ref={host}
            role="region"
            aria-label={`Serial console of ${vmName}`}
            onContextMenu={onContextMenu}
            sx={{
              position: 'absolute',
              inset: 0,
              pl: 1.25,
              pt: 0.75,
              pb: 0.5,
              '& .xterm': { height: '100%' },
              // xterm.css paints the viewport black; it is taller than the rows by a fraction of a line.
              '& .xterm-viewport': { backgroundColor: `${TERMINAL_BG} !important` },
            }}
          />
          {overlay && (
            <Box sx={{ position: 'absolute', inset: 0, display: 'grid', placeItems: 'center', bgcolor: 'rgba(14,17,22,0.86)', p: 3 }}>
              <Typography variant="body2" sx={{ color: 'rgba(255,255,255,0.8)', textAlign: 'center', maxWidth: 420 }}>
                {overlay}
              </Typography>
            </Box>
          )}
        </Box>
        {q && (
          <Box
            component="aside"
            aria-label="Matching lines"
            sx={{ width: 380, flex: 'none', borderLeft: 1, borderColor: 'divider', bgcolor: 'background.paper', display: 'flex', flexDirection: 'column', minHeight: 0 }}
          >
            <Box sx={{ display: 'flex', alignItems: 'center', px: 1.5, py: 0.75, gap: 1 }}>
              <Typography variant="overline" color="text.secondary" sx={{ flex: 1 }}>
                Matching lines
              </Typography>
              {search.kind === 'searching' && <CircularProgress size={12} aria-hidden />}
              <Tooltip title="Close the search">
                <IconButton aria-label="Close search" onClick={() => setQuery('')} sx={{ p: 0.25 }}>
                  <CloseRoundedIcon sx={{ fontSize: 16 }} />
                </IconButton>
              </Tooltip>
            </Box>
            <Divider />
            <MatchList query={q} matches={matches} onPick={(text) => findInTerminal(text)} empty={search.kind === 'done' && matches.length === 0} />
          </Box>
        )}
      </Box>
      <Menu
        open={menu !== null}
        onClose={() => setMenu(null)}
        anchorReference="anchorPosition"
        anchorPosition={menu ? { top: menu.y, left: menu.x } : undefined}
        slotProps={{ list: { dense: true, 'aria-label': 'Terminal' } }}
      >
        <MenuItem
          disabled={!menu?.hasSelection}
          onClick={() => {
            setMenu(null);
            copySelection();
          }}
        >
          <ListItemText>Copy</ListItemText>
          <Shortcut>Ctrl+Shift+C</Shortcut>
        </MenuItem>
        <MenuItem
          onClick={() => {
            setMenu(null);
            pasteClipboard();
          }}
        >
          <ListItemText>Paste</ListItemText>
          <Shortcut>Ctrl+Shift+V</Shortcut>
        </MenuItem>
        <MenuItem
          onClick={() => {
            setMenu(null);
            termRef.current?.selectAll();
          }}
        >
          <ListItemText>Select all</ListItemText>
        </MenuItem>
        <Divider />
        <MenuItem
          onClick={() => {
            setMenu(null);
            termRef.current?.clear();
          }}
        >
          <ListItemText>Clear terminal</ListItemText>
        </MenuItem>
      </Menu>
    </Box>
  );
}

function Shortcut({ children }: { readonly children: string }) {
  return (
    <Typography variant="caption" color="text.secondary" sx={{ ml: 3 }}>
      {children}
    </Typography>
  );
}

const MAX_SHOWN = 500;

function MatchList({
  query,
  matches,
  onPick,
  empty,
}: {
  readonly query: string;
  readonly matches: SerialLog['matches'];
  readonly onPick: (text: string) => void;
  readonly empty: boolean;
}) {
  const shown = useMemo(() => matches.slice(-MAX_SHOWN).map((m) => ({ line: m.line, text: plainLine(m.text) })), [matches]);
  if (empty) {
    return (
      <Typography variant="body2" color="text.secondary" sx={{ p: 2 }}>
        No line of the log contains “{query}”.
      </Typography>
    );
  }
  return (
    <Box component="ol" sx={{ listStyle: 'none', m: 0, p: 0.5, overflowY: 'auto', flex: 1, minHeight: 0 }}>
      {matches.length > shown.length && (
        <Typography component="li" variant="caption" color="text.secondary" sx={{ display: 'block', px: 1, py: 0.5 }}>
          Showing the last {shown.length.toLocaleString()} of {matches.length.toLocaleString()}.
        </Typography>
      )}
      {shown.map((m) => (
        <Box component="li" key={m.line}>
          <Box
            component="button"
            type="button"
            onClick={() => onPick(query)}
            title="Find in the terminal"
            sx={{
              all: 'unset',
              boxSizing: 'border-box',
              width: '100%',
              display: 'grid',
              gridTemplateColumns: '52px 1fr',
              gap: 1,
              px: 1,
              py: 0.4,
              borderRadius: 1,
              cursor: 'pointer',
              fontFamily: MONO_STACK,
              fontSize: '0.74rem',
              lineHeight: 1.45,
              '&:hover': { bgcolor: 'action.hover' },
              '&:focus-visible': { outline: (t) => `2px solid ${t.palette.primary.main}`, outlineOffset: -2 },
            }}
          >
            <Box component="span" sx={{ color: 'text.secondary', textAlign: 'right' }}>
              {m.line}
            </Box>
            <Box component="span" sx={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all', minWidth: 0 }}>
              <Highlighted text={m.text} query={query} />
            </Box>
          </Box>
        </Box>
      ))}
    </Box>
  );
}

function Highlighted({ text, query }: { readonly text: string; readonly query: string }) {
  const lower = text.toLowerCase();
  const needle = query.toLowerCase();
  const parts: { readonly t: string; readonly hit: boolean }[] = [];
  let i = 0;
  while (needle && i < text.length) {
    const j = lower.indexOf(needle, i);
    if (j < 0) break;
    if (j > i) parts.push({ t: text.slice(i, j), hit: false });
    parts.push({ t: text.slice(j, j + needle.length), hit: true });
    i = j + needle.length;
  }
  if (i < text.length) parts.push({ t: text.slice(i), hit: false });
  return (
    <>
      {parts.map((p, k) =>
        p.hit ? (
          <Box component="mark" key={k} sx={{ bgcolor: 'warning.main', color: 'common.black', borderRadius: 0.5, px: 0.25 }}>
            {p.t}
          </Box>
        ) : (
          <span key={k}>{p.t}</span>
        ),
      )}
    </>
  );
}
