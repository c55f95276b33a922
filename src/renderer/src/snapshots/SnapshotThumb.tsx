/**
 * A snapshot's screen as it was, or a camera where there is none (taken while off, or a
 * headless VM). `data-thumbnail` says which (none, loading, loaded) for tests and styling.
 */
import Box from '@mui/material/Box';
import { alpha } from '@mui/material/styles';
import PhotoCameraOutlinedIcon from '@mui/icons-material/PhotoCameraOutlined';
import type { SnapshotInfo } from '../../../core/api/contract';
import { useThumbnail } from './thumbnails';

export interface SnapshotThumbProps {
  readonly snapshot: SnapshotInfo;
  readonly width: number;
  readonly height: number;
  /** Load only once on screen (tree rows); the details panel loads at once. */
  readonly lazy?: boolean;
  readonly fit?: 'cover' | 'contain';
}

export function SnapshotThumb({ snapshot, width, height, lazy = true, fit = 'cover' }: SnapshotThumbProps) {
  const t = useThumbnail(snapshot.id, snapshot.hasThumbnail, lazy);
  const loaded = t.src !== null;
  return (
    <Box
      ref={t.ref}
      data-thumbnail={t.status}
      sx={(theme) => ({
        width,
        height,
        flex: 'none',
        borderRadius: width > 100 ? 1.5 : 1,
        overflow: 'hidden',
        display: 'grid',
        placeItems: 'center',
        bgcolor: loaded ? '#0b0d11' : alpha(theme.palette.text.primary, theme.palette.mode === 'dark' ? 0.06 : 0.045),
        border: 1,
        borderColor: 'divider',
        color: 'text.secondary',
      })}
    >
      {t.src !== null ? (
        <Box
          component="img"
          src={t.src}
          alt={`Thumbnail of ${snapshot.name}`}
          draggable={false}
          sx={{ width: '100%', height: '100%', objectFit: fit, display: 'block' }}
        />
      ) : (
        <PhotoCameraOutlinedIcon aria-hidden sx={{ fontSize: Math.round(Math.min(height * 0.5, 40)), opacity: t.status === 'loading' ? 0.3 : 0.6 }} />
      )}
    </Box>
  );
}
