/** A storage job as a progress bar with its title, percent and (while it runs) Cancel. */
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import LinearProgress from '@mui/material/LinearProgress';
import Typography from '@mui/material/Typography';
import type { JobInfo } from '../../../core/api/contract';

export function JobProgress({ job, onCancel }: { readonly job: JobInfo; readonly onCancel?: () => void }) {
  const running = job.state === 'running';
  const label = running ? `${Math.floor(job.percent)}%` : job.state === 'done' ? 'Done' : job.state === 'cancelled' ? 'Cancelled' : 'Failed';
  return (
    <Box role="group" aria-label={`Job: ${job.title}`} data-job-state={job.state} sx={{ display: 'grid', gridTemplateColumns: '1fr auto', alignItems: 'center', columnGap: 1.5, rowGap: 0.5 }}>
      <Typography variant="body2" noWrap title={job.title}>
        {job.title}
      </Typography>
      <Typography variant="body2" color={job.state === 'failed' ? 'error' : 'text.secondary'} sx={{ fontVariantNumeric: 'tabular-nums' }}>
        {label}
      </Typography>
      <LinearProgress
        variant="determinate"
        value={running ? job.percent : job.state === 'done' ? 100 : job.percent}
        color={job.state === 'failed' ? 'error' : job.state === 'cancelled' ? 'inherit' : 'primary'}
        aria-label={`${job.title} progress`}
        sx={{ height: 6, borderRadius: 3 }}
      />
      <Box sx={{ minWidth: 64, textAlign: 'right' }}>
        {running && onCancel && job.cancellable !== false && (
          <Button size="small" onClick={onCancel} aria-label={`Cancel ${job.title}`}>
            Cancel
          </Button>
        )}
      </Box>
    </Box>
  );
}

/** Upload progress in the same look as a job. */
export function UploadProgressBar({ name, loaded, total }: { readonly name: string; readonly loaded: number; readonly total: number }) {
  const pct = total > 0 ? Math.min(100, (loaded / total) * 100) : 0;
  return (
    <Box role="group" aria-label={`Uploading ${name}`} sx={{ display: 'grid', gap: 0.5 }}>
      <Box sx={{ display: 'flex', justifyContent: 'space-between', gap: 2 }}>
        <Typography variant="body2" noWrap>
          Uploading {name} to the host
        </Typography>
        <Typography variant="body2" color="text.secondary" sx={{ fontVariantNumeric: 'tabular-nums' }}>
          {Math.floor(pct)}%
        </Typography>
      </Box>
      <LinearProgress variant="determinate" value={pct} aria-label={`Upload of ${name}`} sx={{ height: 6, borderRadius: 3 }} />
    </Box>
  );
}
