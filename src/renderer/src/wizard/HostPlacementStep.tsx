/**
 * The New VM wizard's parts for a libvirt host: the "Create on" choice (shown only when hosts
 * exist, as virt-manager shows its connections), the host's storage pools, and the step where
 * the disk's pool, the installation medium (an ISO volume already on the host, or a file from
 * the core's machine copied into the pool as a job with progress) and the network are chosen.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import FormControl from '@mui/material/FormControl';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormHelperText from '@mui/material/FormHelperText';
import InputLabel from '@mui/material/InputLabel';
import MenuItem from '@mui/material/MenuItem';
import Radio from '@mui/material/Radio';
import RadioGroup from '@mui/material/RadioGroup';
import Select from '@mui/material/Select';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import InfoOutlinedIcon from '@mui/icons-material/InfoOutlined';
import type { HostIsoVolume, HostPool, HostSummary, JobInfo, MediaItem } from '../../../core/api/contract';
import { useHostActions } from '../actions/useHostActions';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { MediaPicker } from '../components/MediaPicker';
import { OperationProgress } from '../components/OperationDialog';
import { jobOutcome } from '../hosts/MigrateDialog';
import { useJob } from '../media/useJobs';
import { formatBytes } from '../util/format';
import { NOT_ON_HOST, isoChoices, poolChoices, uploadTarget, type HostNetMode, type HostPlacement, type IsoSource } from './hostPlacement';

const LOCAL = '__local__';

/** "Create on": this computer or one of the hosts (a host not connected cannot be chosen, and says why). */
export function CreateOnField({ hosts, value, onChange }: { readonly hosts: readonly HostSummary[]; readonly value: string | null; readonly onChange: (host: string | null) => void }) {
  return (
    <FormControl>
      <InputLabel id="new-vm-create-on">Create on</InputLabel>
      <Select labelId="new-vm-create-on" label="Create on" value={value ?? LOCAL} onChange={(e) => onChange(e.target.value === LOCAL ? null : e.target.value)}>
        <MenuItem value={LOCAL}>This computer</MenuItem>
        {hosts.map((h) => (
          <MenuItem key={h.name} value={h.name} disabled={h.status !== 'connected'}>
            {h.name}
            <Typography component="span" variant="caption" color="text.secondary" sx={{ ml: 1 }}>
              {h.status === 'connected' ? `libvirt host${h.hostname ? ` ${h.hostname}` : ''}` : h.status === 'connecting' ? 'connecting…' : 'unreachable'}
            </Typography>
          </MenuItem>
        ))}
      </Select>
      <FormHelperText>{value === null ? 'Nestbox runs the VM here.' : `The VM is defined on the libvirt host '${value}'; its disk goes into one of the host's storage pools.`}</FormHelperText>
    </FormControl>
  );
}

/** A host's storage pools (null while loading or when there is no host), and a way to read them again. */
export function useHostPools(host: string | null): { readonly pools: readonly HostPool[] | null; readonly problem: Problem | null; readonly reload: () => Promise<void> } {
  const actions = useHostActions();
  const [state, setState] = useState<{ readonly host: string | null; readonly pools: readonly HostPool[] | null; readonly problem: Problem | null }>({ host: null, pools: null, problem: null });
  const current = useRef(host);
  current.current = host;
  const reload = useCallback(async () => {
    if (host === null) return;
    try {
      const pools = await actions.pools({ name: host });
      if (current.current === host) setState({ host, pools, problem: null });
    } catch (err) {
      if (current.current === host) setState({ host, pools: null, problem: toProblem(err, `Could not read the storage pools of ${host}`) });
    }
  }, [actions, host]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return state.host === host ? { pools: state.pools, problem: state.problem, reload } : { pools: null, problem: null, reload };
}

export interface HostPlacementStepProps {
  readonly placement: HostPlacement & { readonly host: string };
  readonly onChange: (p: HostPlacement) => void;
  readonly pools: readonly HostPool[] | null;
  readonly poolsProblem: Problem | null;
  readonly reloadPools: () => Promise<void>;
  /** The core machine's media library, for the ISO to copy. */
  readonly media: readonly MediaItem[] | null;
  readonly reloadMedia: () => Promise<void>;
  /** Told while a copy runs, so the wizard holds still meanwhile. */
  readonly onCopying: (copying: boolean) => void;
}

export function HostPlacementStep({ placement: p, onChange, pools, poolsProblem, reloadPools, media, reloadMedia, onCopying }: HostPlacementStepProps) {
  const actions = useHostActions();
  const [started, setStarted] = useState<JobInfo | null>(null);
  const job = useJob(started);
  const [problem, setProblem] = useState<Problem | null>(null);
  const running = useRef<string | null>(null);
  const isos = pools ? isoChoices(pools) : [];
  const target = uploadTarget(pools ?? [], p.pool, p.isoFile);
  const set = (over: Partial<HostPlacement>) => onChange({ ...p, ...over });

  // Leaving the wizard (or this step) stops a copy still running; the core removes the partial volume.
  useEffect(
    () => () => {
      if (running.current) void actions.cancelJob({ id: running.current }).catch(() => undefined);
    },
    [actions],
  );

  const copy = async () => {
    setProblem(null);
    onCopying(true);
    try {
      const j = await actions.uploadIso({ name: p.host, pool: p.pool, file: p.isoFile.trim(), volume: target.volume });
      running.current = j.id;
      setStarted(j);
      const vol = (await jobOutcome(await actions.waitJob({ id: j.id }))) as HostIsoVolume;
      running.current = null;
      await reloadPools();
      onChange({ ...p, isoSource: 'volume', isoVolume: `${vol.pool}/${vol.name}` });
    } catch (err) {
      running.current = null;
      setProblem(toProblem(err, `Could not copy ${target.volume} to ${p.host}`));
    } finally {
      setStarted(null);
      onCopying(false);
    }
  };
  const copying = started !== null || running.current !== null;

  return (
    <>
      {poolsProblem && <ProblemAlert problem={poolsProblem} action={<Button onClick={() => void reloadPools()}>Retry</Button>} />}
      <FormControl disabled={copying}>
        <InputLabel id="new-vm-pool">Storage pool</InputLabel>
        <Select labelId="new-vm-pool" label="Storage pool" value={pools?.some((x) => x.name === p.pool) ? p.pool : ''} onChange={(e) => set({ pool: e.target.value })}>
          {poolChoices(pools ?? []).map((c) => (
            <MenuItem key={c.name} value={c.name} disabled={c.disabled}>
              {c.label}
            </MenuItem>
          ))}
        </Select>
        <FormHelperText>{pools === null ? `Reading the storage pools of ${p.host}…` : `The new disk is a QCOW2 volume in this pool on ${p.host}; a copied ISO goes there too.`}</FormHelperText>
      </FormControl>

      <FormControl disabled={copying}>
        <Typography variant="subtitle2" id="new-vm-iso-source">
          Installation medium
        </Typography>
        <RadioGroup aria-labelledby="new-vm-iso-source" value={p.isoSource} onChange={(e) => set({ isoSource: e.target.value as IsoSource })}>
          <FormControlLabel value="volume" control={<Radio />} label={`An ISO already on ${p.host}`} />
          {p.isoSource === 'volume' && (
            <Box sx={{ pl: 4, pb: 1 }}>
              <FormControl fullWidth disabled={copying}>
                <InputLabel id="new-vm-iso-volume">ISO volume</InputLabel>
                <Select labelId="new-vm-iso-volume" label="ISO volume" value={isos.some((c) => c.value === p.isoVolume) ? p.isoVolume : ''} onChange={(e) => set({ isoVolume: e.target.value })}>
                  {isos.map((c) => (
                    <MenuItem key={c.value} value={c.value} title={c.iso.path}>
                      {c.label}
                    </MenuItem>
                  ))}
                  {pools !== null && isos.length === 0 && (
                    <MenuItem disabled value="__none__">
                      No ISO in the host&apos;s pools yet: copy one from this computer
                    </MenuItem>
                  )}
                </Select>
              </FormControl>
            </Box>
          )}
          <FormControlLabel value="file" control={<Radio />} label={`An ISO on this computer, copied to ${p.host}`} />
          {p.isoSource === 'file' && (
            <Box sx={{ pl: 4, pb: 1, display: 'grid', gap: 1.5 }}>
              <MediaPicker
                kind="iso"
                value={p.isoFile}
                onChange={(f) => set({ isoFile: f })}
                media={media}
                reloadMedia={reloadMedia}
                allowNone={false}
                disabled={copying}
                place="this computer"
                pathHelp={`Copied into pool '${p.pool}' as volume ${target.volume}.`}
              />
              {target.existing && !copying ? (
                <Alert
                  severity="info"
                  role="note"
                  action={
                    <Button color="inherit" size="small" onClick={() => set({ isoSource: 'volume', isoVolume: `${target.existing!.pool}/${target.existing!.name}` })}>
                      Use it
                    </Button>
                  }
                >
                  Pool &apos;{p.pool}&apos; already has {target.existing.name} ({formatBytes(target.existing.capacity)}).
                </Alert>
              ) : (
                <Box>
                  <Button variant="outlined" onClick={() => void copy()} disabled={copying || p.isoFile.trim() === '' || pools === null}>
                    Copy to {p.host}
                  </Button>
                </Box>
              )}
              {job && (
                <Box sx={{ display: 'flex', gap: 1, alignItems: 'flex-end' }}>
                  <Box sx={{ flex: 1, minWidth: 0 }}>
                    <OperationProgress text={job.title} percent={job.percent} label="Copy progress" figures={`${Math.round(job.percent)} %`} />
                  </Box>
                  <Button size="small" onClick={() => void actions.cancelJob({ id: job.id }).catch(() => undefined)}>
                    Stop copying
                  </Button>
                </Box>
              )}
              {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} />}
            </Box>
          )}
          <FormControlLabel value="none" control={<Radio />} label="None (the CD/DVD drive stays empty)" />
        </RadioGroup>
      </FormControl>

      <FormControl disabled={copying}>
        <Typography variant="subtitle2" id="new-vm-host-net">
          Network
        </Typography>
        <RadioGroup aria-labelledby="new-vm-host-net" value={p.netMode} onChange={(e) => set({ netMode: e.target.value as HostNetMode })}>
          <Box sx={{ display: 'flex', alignItems: 'center', gap: 2 }}>
            <FormControlLabel value="network" control={<Radio />} label="NAT on the libvirt network" sx={{ flex: 'none' }} />
            <TextField size="small" aria-label="libvirt network" value={p.network} disabled={p.netMode !== 'network' || copying} onChange={(e) => set({ network: e.target.value })} sx={{ width: 180 }} />
          </Box>
          <Box sx={{ display: 'flex', alignItems: 'center', gap: 2 }}>
            <FormControlLabel value="bridge" control={<Radio />} label="The host's bridge" sx={{ flex: 'none' }} />
            <TextField size="small" aria-label="Host bridge" placeholder="br0" value={p.bridge} disabled={p.netMode !== 'bridge' || copying} onChange={(e) => set({ bridge: e.target.value })} sx={{ width: 180 }} />
          </Box>
          <FormControlLabel value="none" control={<Radio />} label="No network adapter" />
        </RadioGroup>
      </FormControl>
      <Alert severity="info" role="note" icon={<InfoOutlinedIcon fontSize="inherit" />}>
        {NOT_ON_HOST.unattended}
      </Alert>
    </>
  );
}
