/**
 * The look: a compact desktop density (13px type, small controls, 6px radius) rather than
 * Material's touch-first defaults, in light and dark palettes tuned to sit next to native
 * window chrome. Fonts are the platform's own; the CSP allows no remote fonts.
 */
import { alpha, createTheme, type Theme } from '@mui/material/styles';

const FONT_STACK = [
  'Inter',
  '"Segoe UI Variable Text"',
  '"Segoe UI"',
  '-apple-system',
  'BlinkMacSystemFont',
  '"SF Pro Text"',
  'Cantarell',
  'Ubuntu',
  '"Noto Sans"',
  '"Liberation Sans"',
  'Roboto',
  'Arial',
  'sans-serif',
].join(', ');

export const MONO_STACK = ['"SF Mono"', '"Cascadia Mono"', '"Ubuntu Mono"', '"DejaVu Sans Mono"', '"Liberation Mono"', 'monospace'].join(', ');

declare module '@mui/material/styles' {
  interface Palette {
    stateColors: Readonly<Record<'success' | 'warning' | 'info' | 'neutral' | 'error' | 'busy', string>>;
    chrome: { readonly toolbar: string; readonly sidebar: string; readonly statusBar: string; readonly border: string };
  }
  interface PaletteOptions {
    stateColors?: Readonly<Record<'success' | 'warning' | 'info' | 'neutral' | 'error' | 'busy', string>>;
    chrome?: { readonly toolbar: string; readonly sidebar: string; readonly statusBar: string; readonly border: string };
  }
}

export function createAppTheme(mode: 'light' | 'dark'): Theme {
  const dark = mode === 'dark';
  const primary = dark ? '#6ea8fe' : '#2563eb';
  const border = dark ? 'rgba(255,255,255,0.09)' : 'rgba(15,23,42,0.11)';
  const base = createTheme({
    palette: {
      mode,
      primary: { main: primary, contrastText: dark ? '#0b1220' : '#ffffff' },
      secondary: { main: dark ? '#c4b5fd' : '#7c3aed' },
      success: { main: dark ? '#4ade80' : '#16a34a' },
      warning: { main: dark ? '#fbbf24' : '#d97706' },
      error: { main: dark ? '#f87171' : '#dc2626' },
      info: { main: dark ? '#7dd3fc' : '#0284c7' },
      background: {
        default: dark ? '#15171c' : '#f5f6f8',
        paper: dark ? '#1d2027' : '#ffffff',
      },
      text: {
        primary: dark ? '#e6e8ec' : '#1b1f27',
        secondary: dark ? '#9aa3b2' : '#5b6474',
      },
      divider: border,
      stateColors: {
        success: dark ? '#4ade80' : '#16a34a',
        warning: dark ? '#fbbf24' : '#d97706',
        info: dark ? '#a78bfa' : '#7c3aed',
        neutral: dark ? '#7c8594' : '#8a93a3',
        error: dark ? '#f87171' : '#dc2626',
        busy: primary,
      },
      chrome: {
        toolbar: dark ? '#1b1e24' : '#fbfbfc',
        sidebar: dark ? '#181a20' : '#f0f2f5',
        statusBar: dark ? '#121419' : '#e9ecf0',
        border,
      },
    },
    typography: {
      fontFamily: FONT_STACK,
      fontSize: 13,
      htmlFontSize: 16,
      h5: { fontSize: '1.45rem', fontWeight: 600, letterSpacing: '-0.01em' },
      h6: { fontSize: '1.05rem', fontWeight: 600 },
      subtitle1: { fontSize: '0.95rem', fontWeight: 600 },
      subtitle2: { fontSize: '0.8rem', fontWeight: 600 },
      body1: { fontSize: '0.875rem' },
      body2: { fontSize: '0.8125rem' },
      caption: { fontSize: '0.72rem' },
      overline: { fontSize: '0.68rem', fontWeight: 600, letterSpacing: '0.08em', lineHeight: 1.6 },
      button: { textTransform: 'none', fontWeight: 500 },
    },
    shape: { borderRadius: 6 },
    spacing: 8,
  });

  return createTheme(base, {
    components: {
      MuiCssBaseline: {
        styleOverrides: {
          'html, body, #root': { height: '100%' },
          body: { overflow: 'hidden', WebkitFontSmoothing: 'antialiased' },
          '*': {
            scrollbarWidth: 'thin',
            scrollbarColor: `${dark ? 'rgba(255,255,255,0.22)' : 'rgba(15,23,42,0.25)'} transparent`,
          },
          code: { fontFamily: MONO_STACK, fontSize: '0.92em' },
        },
      },
      MuiButtonBase: { defaultProps: { disableRipple: false } },
      MuiButton: {
        defaultProps: { size: 'small', disableElevation: true },
        styleOverrides: { root: { borderRadius: 6, paddingInline: 12, minHeight: 30 } },
      },
      MuiIconButton: { defaultProps: { size: 'small' } },
      MuiTextField: { defaultProps: { size: 'small', fullWidth: true } },
      MuiFormControl: { defaultProps: { size: 'small' } },
      MuiSelect: { defaultProps: { size: 'small' } },
      MuiInputBase: { styleOverrides: { root: { fontSize: '0.8125rem' } } },
      MuiInputLabel: { styleOverrides: { root: { fontSize: '0.8125rem' } } },
      MuiMenuItem: { styleOverrides: { root: { fontSize: '0.8125rem', minHeight: 32 } } },
      MuiListSubheader: {
        styleOverrides: {
          root: { fontSize: '0.68rem', fontWeight: 700, letterSpacing: '0.06em', textTransform: 'uppercase', lineHeight: '30px' },
        },
      },
      MuiTooltip: {
        defaultProps: { arrow: true, enterDelay: 400 },
        styleOverrides: { tooltip: { fontSize: '0.75rem', maxWidth: 340 } },
      },
      MuiPaper: { styleOverrides: { root: { backgroundImage: 'none' } } },
      MuiDialog: {
        styleOverrides: {
          paper: { border: `1px solid ${border}`, boxShadow: dark ? '0 24px 64px rgba(0,0,0,0.6)' : '0 24px 64px rgba(15,23,42,0.22)' },
        },
      },
      MuiDialogTitle: { styleOverrides: { root: { fontSize: '1rem', fontWeight: 600, padding: '14px 20px' } } },
      MuiDialogActions: { styleOverrides: { root: { padding: '10px 16px', gap: 4 } } },
      MuiAlert: {
        styleOverrides: {
          root: { fontSize: '0.8125rem', alignItems: 'flex-start', borderRadius: 6 },
          message: { overflowWrap: 'anywhere', width: '100%' },
        },
      },
      MuiChip: { styleOverrides: { root: { fontSize: '0.72rem', fontWeight: 600 } } },
      MuiSlider: { defaultProps: { size: 'small' } },
      MuiRadio: { defaultProps: { size: 'small' } },
      MuiCheckbox: { defaultProps: { size: 'small' } },
      MuiFormControlLabel: { styleOverrides: { label: { fontSize: '0.8125rem' } } },
      MuiFormHelperText: { styleOverrides: { root: { fontSize: '0.72rem', marginLeft: 2 } } },
      MuiTab: {
        styleOverrides: {
          root: { textTransform: 'none', minHeight: 36, fontSize: '0.8125rem', fontWeight: 500 },
        },
      },
      MuiTableCell: {
        styleOverrides: { root: { fontSize: '0.8125rem', padding: '7px 12px', borderColor: border } },
      },
      MuiStepLabel: { styleOverrides: { label: { fontSize: '0.8125rem' } } },
      MuiLinearProgress: { styleOverrides: { root: { borderRadius: 2 } } },
      MuiSnackbar: { defaultProps: { anchorOrigin: { vertical: 'bottom', horizontal: 'left' } } },
      MuiListItemButton: {
        styleOverrides: {
          root: {
            borderRadius: 6,
            '&.Mui-selected': { backgroundColor: alpha(primary, dark ? 0.2 : 0.12) },
            '&.Mui-selected:hover': { backgroundColor: alpha(primary, dark ? 0.26 : 0.16) },
          },
        },
      },
    },
  });
}
