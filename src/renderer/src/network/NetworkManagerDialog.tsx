/**
 * The host Network Manager (File → Tools → Network in VirtualBox): the host's bridges, with
 * the VMs bridged to each and whether qemu-bridge-helper may use them (and if not, why and
 * the commands that fix it), and the internal networks with the VMs on each.
 */
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Chip from '@mui/material/Chip';
import CircularProgress from '@mui/material/CircularProgress';
import Dialog from '@mui/material/Dialog';
import DialogActions from '@mui/material/DialogActions';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import RefreshIcon from '@mui/icons-material/Refresh';
import { BridgeFix, useNetworkHost } from './AdapterEditor';

export function NetworkManagerDialog({ open, onClose }: { readonly open: boolean; readonly onClose: () => void }) {
  return (
    <Dialog open={open} onClose={onClose} maxWidth="md" fullWidth aria-labelledby="netmgr-title">
      {open && <Body onClose={onClose} />}
    </Dialog>
  );
}

function Body({ onClose }: { readonly onClose: () => void }) {
  const { info, refresh } = useNetworkHost();
  return (
    <>
      <DialogTitle id="netmgr-title">Network Manager</DialogTitle>
      <DialogContent dividers sx={{ display: 'grid', gap: 3 }}>
        {!info ? (
          <Box sx={{ display: 'grid', placeItems: 'center', py: 4 }}>
            <CircularProgress size={22} aria-label="Loading networks" />
          </Box>
        ) : (
          <>
            <Box component="section" aria-labelledby="netmgr-bridges">
              <Typography id="netmgr-bridges" variant="subtitle1" component="h3" sx={{ fontWeight: 600, mb: 0.5 }}>
                Host bridges
              </Typography>
              <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
                A bridged adapter puts the VM on the network the bridge is on, as another machine on the LAN.
                {info.helper.path ? ` QEMU attaches through ${info.helper.path}.` : ''}
              </Typography>
              {info.bridges.length === 0 ? (
                <BridgeFix reason="this host has no network bridge" fix={['sudo ip link add br0 type bridge && sudo ip link set br0 up', 'sudo ip link set ETH master br0    # your wired interface']} />
              ) : (
                <Table size="small" aria-label="Host bridges">
                  <TableHead>
                    <TableRow>
                      <TableCell>Bridge</TableCell>
                      <TableCell>State</TableCell>
                      <TableCell>Members</TableCell>
                      <TableCell>VMs</TableCell>
                      <TableCell>VMs may attach</TableCell>
                    </TableRow>
                  </TableHead>
                  <TableBody>
                    {info.bridges.map((b) => (
                      <TableRow key={b.name}>
                        <TableCell sx={{ fontFamily: 'ui-monospace, monospace' }}>{b.name}</TableCell>
                        <TableCell>{b.state}</TableCell>
                        <TableCell>{b.members.join(', ') || '—'}</TableCell>
                        <TableCell>{b.vms.map((v) => `${v.name} (${v.nic})`).join(', ') || '—'}</TableCell>
                        <TableCell>
                          <Chip size="small" color={b.helper.ok ? 'success' : 'warning'} variant="outlined" label={b.helper.ok ? 'Allowed' : 'Not allowed'} />
                        </TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
              )}
              {info.bridges
                .filter((b) => !b.helper.ok)
                .map((b) => (
                  <Box key={b.name}>
                    <Typography variant="body2" sx={{ mt: 1.5, fontWeight: 500 }}>
                      {b.name}
                    </Typography>
                    <BridgeFix reason={b.helper.reason} fix={b.helper.fix} />
                  </Box>
                ))}
              {info.missingBridges.map((m) => (
                <BridgeFix key={m} reason={`VMs are bridged to '${m}', which is not on this host`} fix={[`sudo ip link add ${m} type bridge && sudo ip link set ${m} up`]} />
              ))}
            </Box>

            <Box component="section" aria-labelledby="netmgr-internal">
              <Typography id="netmgr-internal" variant="subtitle1" component="h3" sx={{ fontWeight: 600, mb: 0.5 }}>
                Internal networks
              </Typography>
              <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
                VMs on the same internal network reach each other and nothing else; no traffic leaves this computer. A network exists while a VM names it.
              </Typography>
              {info.internalNetworks.length === 0 ? (
                <Typography variant="body2" color="text.secondary">
                  None yet. In a VM’s Settings → Network, attach an adapter to “Internal network” and give the network a name.
                </Typography>
              ) : (
                <Table size="small" aria-label="Internal networks">
                  <TableHead>
                    <TableRow>
                      <TableCell>Network</TableCell>
                      <TableCell>VMs</TableCell>
                    </TableRow>
                  </TableHead>
                  <TableBody>
                    {info.internalNetworks.map((n) => (
                      <TableRow key={n.name}>
                        <TableCell sx={{ fontFamily: 'ui-monospace, monospace' }}>{n.name}</TableCell>
                        <TableCell>
                          <Box sx={{ display: 'flex', gap: 0.75, flexWrap: 'wrap' }}>
                            {n.vms.map((v) => (
                              <Chip
                                key={`${v.uuid}-${v.nic}`}
                                size="small"
                                color={v.connected ? 'success' : 'default'}
                                variant={v.connected ? 'filled' : 'outlined'}
                                label={`${v.name} (${v.nic})${v.connected ? ' · connected' : ''}`}
                              />
                            ))}
                          </Box>
                        </TableCell>
                      </TableRow>
                    ))}
                  </TableBody>
                </Table>
              )}
            </Box>
          </>
        )}
      </DialogContent>
      <DialogActions>
        <Button startIcon={<RefreshIcon />} onClick={refresh}>
          Refresh
        </Button>
        <Button variant="contained" onClick={onClose}>
          Close
        </Button>
      </DialogActions>
    </>
  );
}
