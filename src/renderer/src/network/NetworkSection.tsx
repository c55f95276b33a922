/**
 * Settings → Network: each adapter on its own tab, as VirtualBox has it (up to 8). What the
 * adapter is attached to (mode, model, MAC, bridge, internal network) is edited while the VM
 * is off and applied with the panel's button; the virtual cable and the port forwarding rules
 * act at once, also while the VM runs. None of them wait for the dialog's OK.
 */
import { useId, useState } from 'react';
import Alert from '@mui/material/Alert';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import CircularProgress from '@mui/material/CircularProgress';
import FormControlLabel from '@mui/material/FormControlLabel';
import FormHelperText from '@mui/material/FormHelperText';
import Switch from '@mui/material/Switch';
import Tab from '@mui/material/Tab';
import Tabs from '@mui/material/Tabs';
import Typography from '@mui/material/Typography';
import SettingsEthernetIcon from '@mui/icons-material/SettingsEthernet';
import type { VmInfo } from '../../../core/api/contract';
import { ProblemAlert, toProblem, type Problem } from '../components/ErrorAlert';
import AddIcon from '@mui/icons-material/Add';
import RemoveCircleOutlineIcon from '@mui/icons-material/RemoveCircleOutline';
import type { NetworkHostInfo } from '../../../core/api/contract';
import { AdapterEditor, useNetworkHost } from './AdapterEditor';
import { useCableConnected } from './linkState';
import { PortForwardDialog } from './PortForwardDialog';
import { ruleSummary, type Nic } from './rules';
import { useNetworkActions } from '../actions/useNetworkActions';

const SUMMARY_ROWS = 4;

/** The guest is there to hear about the cable: running or paused, not starting or stopping. */
export function canSetLink(vm: VmInfo): boolean {
  return vm.runtime !== null && (vm.state === 'running' || vm.state === 'paused');
}

const MAX_NICS = 8;

/** Add and remove adapters (the VM must be off). */
function AdapterButtons({ vm, index, onAdded }: { readonly vm: VmInfo; readonly index: number; readonly onAdded: (i: number) => void }) {
  const network = useNetworkActions();
  const [problem, setProblem] = useState<Problem | null>(null);
  const off = vm.allowed.includes('modifyHardware');
  const nic = vm.config.nics[index];
  return (
    <Box sx={{ display: 'grid', gap: 1 }}>
      <Box sx={{ display: 'flex', gap: 1 }}>
        <Button
          size="small"
          startIcon={<AddIcon />}
          disabled={!off || vm.config.nics.length >= MAX_NICS}
          onClick={() =>
            network.addNic({ ref: vm.uuid }).then(
              (r) => onAdded(r.vm.config.nics.length - 1),
              (err: unknown) => setProblem(toProblem(err, 'No adapter was added')),
            )
          }
        >
          Add adapter
        </Button>
        {nic && (
          <Button
            size="small"
            color="error"
            startIcon={<RemoveCircleOutlineIcon />}
            disabled={!off}
            onClick={() =>
              network.removeNic({ ref: vm.uuid, nic: nic.id }).then(
                () => onAdded(Math.max(0, index - 1)),
                (err: unknown) => setProblem(toProblem(err, 'The adapter was not removed')),
              )
            }
          >
            Remove adapter {index + 1}
          </Button>
        )}
      </Box>
      {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} />}
    </Box>
  );
}

export function NetworkSection({ vm }: { readonly vm: VmInfo }) {
  const nics = vm.config.nics;
  const [tab, setTab] = useState(0);
  const [forwardsOf, setForwardsOf] = useState<string | null>(null);
  const { info: host } = useNetworkHost();
  const index = Math.min(tab, Math.max(0, nics.length - 1));
  const nic = nics[index];

  if (!nic) {
    return (
      <Box sx={{ display: 'grid', gap: 1.5 }}>
        <Alert severity="info" role="note">
          This VM has no network adapter.
        </Alert>
        <AdapterButtons vm={vm} index={0} onAdded={setTab} />
      </Box>
    );
  }
  return (
    <>
      <Tabs
        value={index}
        onChange={(_, v: number) => setTab(v)}
        aria-label="Network adapters"
        variant="scrollable"
        scrollButtons="auto"
        sx={{ minHeight: 36, borderBottom: 1, borderColor: 'divider', mt: -1 }}
      >
        {nics.map((n, i) => (
          <Tab key={n.id} value={i} label={`Adapter ${i + 1}`} id={`nic-tab-${n.id}`} aria-controls={`nic-panel-${n.id}`} />
        ))}
      </Tabs>
      <AdapterPanel
        key={nic.id}
        vm={vm}
        nic={nic}
        label={`Adapter ${index + 1}`}
        tabbed
        host={host}
        onPortForwarding={() => setForwardsOf(nic.id)}
      />
      <Box sx={{ mt: 2 }}>
        <AdapterButtons vm={vm} index={index} onAdded={setTab} />
      </Box>
      <PortForwardDialog vm={vm} nicId={forwardsOf} onClose={() => setForwardsOf(null)} />
    </>
  );
}

function AdapterPanel({
  vm,
  nic,
  label,
  tabbed,
  host,
  onPortForwarding,
}: {
  readonly vm: VmInfo;
  readonly nic: Nic;
  readonly label: string;
  readonly tabbed: boolean;
  readonly host: NetworkHostInfo | null;
  readonly onPortForwarding: () => void;
}) {
  const nat = nic.mode === 'nat';
  const forwards = nat ? nic.forwards : [];
  const forwardsId = useId();
  return (
    <Box
      {...(tabbed ? { id: `nic-panel-${nic.id}`, role: 'tabpanel', 'aria-labelledby': `nic-tab-${nic.id}` } : { role: 'group', 'aria-label': label })}
      sx={{ display: 'grid', gap: 2.5 }}
    >
      {/* A changed adapter (applied here or elsewhere) starts a fresh draft; other refreshes keep the edits. */}
      <AdapterEditor key={JSON.stringify(nic)} vm={vm} nic={nic} host={host} />

      <CableSwitch vm={vm} nic={nic} />

      <Box component="section" aria-labelledby={forwardsId}>
        <Typography id={forwardsId} variant="subtitle2" component="h4" sx={{ mb: 0.75 }}>
          Port forwarding
        </Typography>
        {nat ? (
          forwards.length === 0 ? (
            <Typography variant="body2" color="text.secondary" sx={{ mb: 1.25 }}>
              No rules. Forward a port to reach a service in the guest (a web server, SSH) from this computer.
            </Typography>
          ) : (
            <Box component="ul" aria-label="Current rules" sx={{ m: 0, mb: 1.25, p: 0, listStyle: 'none', display: 'grid', gap: 0.25 }}>
              {forwards.slice(0, SUMMARY_ROWS).map((f) => (
                <Typography key={f.name} component="li" variant="body2" sx={{ display: 'flex', gap: 1, minWidth: 0 }}>
                  <Box component="span" sx={{ fontWeight: 500, flex: 'none', maxWidth: 180, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
                    {f.name}
                  </Box>
                  <Box component="span" sx={{ color: 'text.secondary', fontVariantNumeric: 'tabular-nums', minWidth: 0, overflowWrap: 'anywhere' }}>
                    {ruleSummary(f)}
                  </Box>
                </Typography>
              ))}
              {forwards.length > SUMMARY_ROWS && (
                <Typography component="li" variant="body2" color="text.secondary">
                  and {forwards.length - SUMMARY_ROWS} more
                </Typography>
              )}
            </Box>
          )
        ) : (
          <Typography variant="body2" color="text.secondary" sx={{ mb: 1.25 }}>
            Port forwarding needs an adapter attached to NAT.
          </Typography>
        )}
        <Button variant="outlined" startIcon={<SettingsEthernetIcon />} onClick={onPortForwarding} disabled={!nat}>
          Port Forwarding…
        </Button>
      </Box>

      <Typography variant="caption" color="text.secondary" component="p" sx={{ m: 0 }}>
        Adapter changes apply with their own button; the cable and port forwarding take effect at once, also while the VM runs. None of them wait for OK.
      </Typography>
    </Box>
  );
}

function CableSwitch({ vm, nic }: { readonly vm: VmInfo; readonly nic: Nic }) {
  const network = useNetworkActions();
  const { connected, remember } = useCableConnected(vm, nic.id);
  const [pending, setPending] = useState<boolean | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const helpId = useId();
  const live = canSetLink(vm);
  const shown = pending ?? connected;

  const toggle = (next: boolean) => {
    setPending(next);
    setProblem(null);
    network.setLink({ ref: vm.uuid, nic: nic.id, connected: next }).then(
      () => {
        remember(next);
        setPending(null);
      },
      (err: unknown) => {
        setPending(null);
        setProblem(toProblem(err, next ? 'The cable was not connected' : 'The cable was not disconnected'));
      },
    );
  };

  return (
    <Box>
      <Box sx={{ display: 'flex', alignItems: 'center', gap: 1 }}>
        <FormControlLabel
          sx={{ ml: -0.75, mr: 0 }}
          control={
            <Switch
              size="small"
              checked={shown}
              disabled={!live || pending !== null}
              onChange={(_, c) => toggle(c)}
              slotProps={{ input: { 'aria-describedby': helpId } }}
            />
          }
          label="Cable connected"
        />
        {pending !== null && <CircularProgress size={14} aria-label="Changing the cable" />}
      </Box>
      <FormHelperText id={helpId} sx={{ mt: 0, ml: 0 }}>
        {live
          ? shown
            ? 'Turn off to unplug the virtual cable: the guest sees its network go down, as with a real cable.'
            : 'Unplugged: the guest has no network until you connect the cable again.'
          : 'Can be changed only while the VM is running; every start begins with the cable connected.'}
      </FormHelperText>
      {problem && <ProblemAlert problem={problem} onClose={() => setProblem(null)} sx={{ mt: 1 }} />}
    </Box>
  );
}
