/** What the Snapshot Manager shows before a VM has a snapshot: what one is, and a button to take the first (or why it cannot be taken now). */
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import { alpha } from '@mui/material/styles';
import AddAPhotoOutlinedIcon from '@mui/icons-material/AddAPhotoOutlined';
import PhotoCameraOutlinedIcon from '@mui/icons-material/PhotoCameraOutlined';
import type { VmInfo } from '../../../core/api/contract';

export function NoSnapshots({ vm, why, showWhy, onTake }: { readonly vm: VmInfo; readonly why: string | null; readonly showWhy: boolean; readonly onTake: () => void }) {
  return (
    <Box sx={{ flex: 1, display: 'grid', placeItems: 'center', p: 4, overflowY: 'auto' }}>
      <Box sx={{ maxWidth: 480, textAlign: 'center' }}>
        <Box
          sx={(t) => ({
            width: 84,
            height: 84,
            mx: 'auto',
            mb: 2.25,
            borderRadius: '26px',
            display: 'grid',
            placeItems: 'center',
            color: 'primary.main',
            bgcolor: alpha(t.palette.primary.main, t.palette.mode === 'dark' ? 0.14 : 0.08),
            border: `1px solid ${alpha(t.palette.primary.main, 0.22)}`,
          })}
        >
          <PhotoCameraOutlinedIcon sx={{ fontSize: 40 }} />
        </Box>
        <Typography variant="h6" component="h2" gutterBottom>
          No snapshots yet
        </Typography>
        <Typography variant="body2" color="text.secondary" sx={{ mb: 2.5 }}>
          A snapshot keeps the state of &apos;{vm.name}&apos; (its disks, its settings and, while it runs, its memory) so that you can come
          back to it in seconds. Take one before you try something risky.
        </Typography>
        <Tooltip title={why ?? ''} describeChild>
          <span style={{ display: 'inline-flex' }}>
            <Button variant="contained" size="medium" startIcon={<AddAPhotoOutlinedIcon />} onClick={onTake} disabled={why !== null} sx={{ px: 2.5, minHeight: 36 }}>
              Take the first snapshot
            </Button>
          </span>
        </Tooltip>
        {why && showWhy && (
          <Typography variant="caption" color="text.secondary" component="p" sx={{ mt: 1.5 }}>
            {why}
          </Typography>
        )}
      </Box>
    </Box>
  );
}
