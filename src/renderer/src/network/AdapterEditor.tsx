/**
 * What one adapter is attached to, edited in place: mode, NIC model, MAC (with regenerate),
 * and the mode's own settings — NAT subnet and restrict, the host bridge (with why it cannot
 * be used and the commands that fix it), or the internal network's name (offering the names
 * other VMs use). Changes are applied with the panel's own button, since they need the VM
 * off; the core checks everything again.
 */
import { useEffect, useId, useMemo, useState } from 'react';
import Alert from '@mui/material/Alert';
import Autocomplete from '@mui/material/Autocomplete';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Checkbox from '@mui/material/Checkbox';
import FormControlLabel from '@mui/material/FormControlLabel';
import IconButton from '@mui/material/IconButton';
import MenuItem from '@mui/material/MenuItem';
import TextField from '@mui/material/TextField';
import Tooltip from '@mui/material/Tooltip';
import Typography from '@mui/material/Typography';
import AutorenewIcon from '@mui/icons-material/Autorenew';
import type { NetworkHostInfo, NicSpec, VmInfo } from '../../../core/api/contract';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import { nicModeLabel, nicModelLabel } from '../model/labels';
import type { Nic } from './rules';
import { useNetworkActions } from '../actions/useNetworkActions';

const MODES: readonly Nic['mode'][] = ['nat', 'bridged', 'internal', 'none'];
const MODELS: readonly Nic['model'][] = ['virtio-net-pci', 'e1000', 'rtl8139', 'e1000e', 'vmxnet3', 'pcnet'];
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const NET_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const CIDR_RE = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

interface Draft {
  mode: Nic['mode'];
  model: Nic['model'];
  mac: string;
  natNetwork: string;
  restrict: boolean;
  bridge: string;
  via: 'helper' | 'tap';
  tap: string;
  network: string;
}

function draftOf(n: Nic): Draft {
  return {
    mode: n.mode,
    model: n.model,
    mac: n.mac,
    natNetwork: n.natNetwork ?? '10.0.2.0/24',
    restrict: n.restrict ?? false,
    bridge: n.bridge ?? '',
    via: n.bridgeVia === 'tap' ? 'tap' : 'helper',
    tap: n.tap ?? '',
    network: n.network ?? '',
  };
}

/** Host networks, fetched when an editor opens (bridges come and go with the host). */
export function useNetworkHost(): { info: NetworkHostInfo | null; refresh: () => void } {
  const network = useNetworkActions();
  const [info, setInfo] = useState<NetworkHostInfo | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    network.host({}).then(
      (i) => live && setInfo(i),
      () => live && setInfo(null),
    );
    return () => {
      live = false;
    };
  }, [network, tick]);
  return { info, refresh: () => setTick((t) => t + 1) };
}

export function AdapterEditor({ vm, nic, host }: { readonly vm: VmInfo; readonly nic: Nic; readonly host: NetworkHostInfo | null }) {
  const network = useNetworkActions();
  const [d, setD] = useState<Draft>(() => draftOf(nic));
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const ids = { mode: useId(), model: useId(), mac: useId(), bridge: useId(), net: useId(), subnet: useId() };
  const editable = vm.allowed.includes('modifyHardware');

  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setD((x) => ({ ...x, [k]: v }));
  const original = draftOf(nic);
  const macProblem = MAC_RE.test(d.mac.toLowerCase()) ? (parseInt(d.mac.slice(0, 2), 16) & 1 ? 'A multicast address; the first byte must be even' : null) : 'Six hex pairs, such as 52:54:00:12:34:56';
  const netProblem = d.mode === 'internal' && !NET_RE.test(d.network) ? 'A name: letters, digits, . _ - (up to 32)' : null;
  const subnetProblem = d.mode === 'nat' && !CIDR_RE.test(d.natNetwork) ? 'A network such as 10.0.2.0/24' : null;
  const declared = nic.bridgeVia === 'vmnet' || nic.bridgeVia === 'windows-tap';
  const bridgeProblem =
    d.mode !== 'bridged' || declared ? null : d.via === 'tap' ? (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(d.tap) ? null : 'The tap device’s name') : d.bridge === '' ? 'Choose a host bridge' : null;
  const bridgeInfo = host?.bridges.find((b) => b.name === d.bridge);
  const networkNames = useMemo(() => host?.internalNetworks.map((n) => n.name) ?? [], [host]);
  const changes: NicSpec = {
    ...(d.mode !== original.mode ? { mode: d.mode } : {}),
    ...(d.model !== original.model ? { model: d.model } : {}),
    ...(d.mac.toLowerCase() !== original.mac ? { mac: d.mac.toLowerCase() } : {}),
    ...(d.mode === 'nat' && d.natNetwork !== original.natNetwork ? { natNetwork: d.natNetwork } : {}),
    ...(d.mode === 'nat' && d.restrict !== original.restrict ? { restrict: d.restrict } : {}),
    ...(d.mode === 'bridged' && d.bridge !== original.bridge ? { bridge: d.bridge } : {}),
    ...(d.mode === 'bridged' && !declared && d.via !== original.via ? { bridgeVia: d.via } : {}),
    ...(d.mode === 'bridged' && d.via === 'tap' && d.tap !== original.tap ? { tap: d.tap } : {}),
    ...(d.mode === 'internal' && d.network !== original.network ? { network: d.network } : {}),
  };
  const dirty = Object.keys(changes).length > 0;
  const valid = !macProblem && !netProblem && !subnetProblem && !bridgeProblem;

  const apply = () => {
    setSaving(true);
    setProblem(null);
    network.setNic({ ref: vm.uuid, nic: nic.id, changes }).then(
      () => setSaving(false),
      (err: unknown) => {
        setSaving(false);
        setProblem(toProblem(err, 'The adapter was not changed'));
      },
    );
  };
  const regenerate = () => {
    network.newMac({}).then(
      (r) => set('mac', r.mac),
      (err: unknown) => setProblem(toProblem(err, 'No new MAC address')),
    );
  };

  return (
    <Box sx={{ display: 'grid', gap: 1.75 }}>
      {!editable && (
        <Alert severity="info" role="note" sx={{ py: 0 }}>
          Power off the VM to change what this adapter is attached to.
        </Alert>
      )}
      <Box sx={{ display: 'grid', gridTemplateColumns: 'minmax(0,1fr) minmax(0,1fr)', gap: 1.5 }}>
        <TextField select size="small" label="Attached to" id={ids.mode} value={d.mode} disabled={!editable} onChange={(e) => set('mode', e.target.value as Nic['mode'])}>
          {MODES.map((m) => (
            <MenuItem key={m} value={m}>
              {nicModeLabel(m)}
            </MenuItem>
          ))}
        </TextField>
        <TextField select size="small" label="Adapter type" id={ids.model} value={d.model} disabled={!editable} onChange={(e) => set('model', e.target.value as Nic['model'])}>
          {MODELS.map((m) => (
            <MenuItem key={m} value={m}>
              {nicModelLabel(m)}
            </MenuItem>
          ))}
        </TextField>
      </Box>

      <Box sx={{ display: 'flex', gap: 0.5, alignItems: 'flex-start' }}>
        <TextField
          size="small"
          label="MAC address"
          id={ids.mac}
          value={d.mac}
          disabled={!editable}
          onChange={(e) => set('mac', e.target.value.trim())}
          error={macProblem !== null}
          helperText={macProblem ?? 'Unique among your VMs'}
          sx={{ flex: 1, '& input': { fontFamily: 'ui-monospace, monospace' } }}
          slotProps={{ htmlInput: { spellCheck: false } }}
        />
        <Tooltip title="Generate a new MAC address">
          <span>
            <IconButton aria-label="Generate a new MAC address" onClick={regenerate} disabled={!editable} sx={{ mt: 0.25 }}>
              <AutorenewIcon />
            </IconButton>
          </span>
        </Tooltip>
      </Box>

      {d.mode === 'nat' && (
        <Box sx={{ display: 'flex', gap: 1.5, alignItems: 'flex-start', flexWrap: 'wrap' }}>
          <TextField
            size="small"
            label="NAT network"
            id={ids.subnet}
            value={d.natNetwork}
            disabled={!editable}
            onChange={(e) => set('natNetwork', e.target.value.trim())}
            error={subnetProblem !== null}
            helperText={subnetProblem ?? 'Gateway .2, DNS .3, the guest gets .15'}
            sx={{ width: 220 }}
          />
          <FormControlLabel
            control={<Checkbox size="small" checked={d.restrict} disabled={!editable} onChange={(_, c) => set('restrict', c)} />}
            label="Restrict (no outbound connections; port forwards still work)"
            sx={{ mt: 0.5 }}
          />
        </Box>
      )}

      {d.mode === 'bridged' && declared && (
        <Typography variant="body2" color="text.secondary">
          Bridged to <b>{nic.bridge}</b> through {nic.bridgeVia === 'vmnet' ? 'macOS vmnet' : 'a TAP-Windows adapter'}; this works only on that host.
        </Typography>
      )}
      {d.mode === 'bridged' && !declared && (
        <Box sx={{ display: 'flex', gap: 1.5, alignItems: 'flex-start', flexWrap: 'wrap' }}>
          <TextField select size="small" label="Connect through" value={d.via} disabled={!editable} onChange={(e) => set('via', e.target.value as Draft['via'])} sx={{ width: 260 }}>
            <MenuItem value="helper">qemu-bridge-helper</MenuItem>
            <MenuItem value="tap">A prepared tap device</MenuItem>
          </TextField>
          {d.via === 'tap' && (
            <TextField
              size="small"
              label="Tap device"
              value={d.tap}
              disabled={!editable}
              onChange={(e) => set('tap', e.target.value.trim())}
              error={bridgeProblem !== null && d.tap !== ''}
              helperText="Keeps QEMU’s sandbox on; an administrator creates it once"
              sx={{ width: 260 }}
            />
          )}
        </Box>
      )}
      {d.mode === 'bridged' && !declared && (
        <Box>
          <TextField
            select
            size="small"
            label={d.via === 'tap' ? 'Host bridge (optional: checked at start)' : 'Host bridge'}
            id={ids.bridge}
            value={d.bridge}
            disabled={!editable}
            onChange={(e) => set('bridge', e.target.value)}
            error={bridgeProblem !== null && d.bridge !== ''}
            helperText={host && host.bridges.length === 0 ? 'This host has no bridges' : bridgeInfo ? `Members: ${bridgeInfo.members.join(', ') || 'none'} · ${bridgeInfo.state}` : ' '}
            sx={{ width: 320 }}
          >
            {host?.bridges.map((b) => (
              <MenuItem key={b.name} value={b.name}>
                {b.name}
                <Typography component="span" variant="caption" color={b.helper.ok ? 'success.main' : 'warning.main'} sx={{ ml: 1 }}>
                  {b.helper.ok ? 'allowed' : 'not allowed'}
                </Typography>
              </MenuItem>
            ))}
            {d.bridge !== '' && !host?.bridges.some((b) => b.name === d.bridge) && <MenuItem value={d.bridge}>{d.bridge} (not on this host)</MenuItem>}
          </TextField>
          {bridgeInfo && !bridgeInfo.helper.ok && d.via === 'helper' && <BridgeFix reason={bridgeInfo.helper.reason} fix={bridgeInfo.helper.fix} />}
          {host && d.bridge !== '' && !bridgeInfo && <BridgeFix reason={`there is no bridge '${d.bridge}' on this host`} fix={[`sudo ip link add ${d.bridge} type bridge && sudo ip link set ${d.bridge} up`]} />}
          {host && host.bridges.length === 0 && d.bridge === '' && d.via === 'helper' && (
            <BridgeFix reason="this host has no network bridge" fix={['sudo ip link add br0 type bridge && sudo ip link set br0 up', 'sudo ip link set ETH master br0    # your wired interface']} />
          )}
        </Box>
      )}

      {d.mode === 'internal' && (
        <Autocomplete
          freeSolo
          options={networkNames}
          value={d.network}
          inputValue={d.network}
          disabled={!editable}
          onInputChange={(_, v) => set('network', v.trim())}
          renderInput={(params) => (
            <TextField
              {...params}
              size="small"
              label="Internal network name"
              id={ids.net}
              error={netProblem !== null && d.network !== ''}
              helperText={netProblem ?? 'VMs with the same name reach each other, and nothing else'}
            />
          )}
          sx={{ width: 320 }}
        />
      )}

      {editable && (
        <Box sx={{ display: 'flex', gap: 1 }}>
          <Button variant="contained" size="small" disabled={!dirty || !valid || saving} onClick={apply}>
            Apply adapter changes
          </Button>
          <Button size="small" disabled={!dirty || saving} onClick={() => setD(draftOf(nic))}>
            Revert
          </Button>
        </Box>
      )}
      {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} />}
    </Box>
  );
}

/** Why the host refuses a bridge, with the commands an administrator runs to allow it. */
export function BridgeFix({ reason, fix }: { readonly reason?: string | undefined; readonly fix?: readonly string[] | undefined }) {
  return (
    <Alert severity="warning" sx={{ mt: 1 }} role="alert">
      <Typography variant="body2" sx={{ mb: fix?.length ? 0.5 : 0 }}>
        VMs cannot attach here: {reason ?? 'not allowed'}.
      </Typography>
      {fix && fix.length > 0 && (
        <>
          <Typography variant="body2">To allow it, run:</Typography>
          <Box component="pre" sx={{ m: 0, mt: 0.5, p: 1, borderRadius: 1, bgcolor: 'action.hover', fontSize: 12, whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
            {fix.join('\n')}
          </Box>
        </>
      )}
    </Alert>
  );
}
