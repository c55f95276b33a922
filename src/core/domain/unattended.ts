/**
 * Unattended installs: what the user gives (checked here, so a value never breaks out of the
 * seed file it lands in) and the seed files built from it. Pure: the password arrives already
 * hashed (SHA-512 crypt) or, for Windows, already in the form Windows defines; the files are
 * strings the storage layer packs onto a small ISO or into an initrd.
 *
 * Which seed a VM gets:
 * - `windows`: `autounattend.xml`, found by Windows Setup at the root of any removable drive;
 * - `debian`: a debian-installer preseed, put into a copy of the installer's initrd as
 *   `/preseed.cfg` (d-i reads it from there before asking anything), booted by direct kernel
 *   boot with `auto=true priority=critical`;
 * - `ubuntu`: Subiquity autoinstall inside cloud-config `user-data` on a NoCloud `cidata`
 *   CD, booted by direct kernel boot with `autoinstall` (without it Subiquity asks to confirm);
 * - `cloud`: a cloud image (a disk, no installer) with cloud-init's NoCloud `cidata` CD.
 */

export type SeedKind = 'windows' | 'debian' | 'ubuntu' | 'cloud';
export const SEED_KINDS: readonly SeedKind[] = ['windows', 'debian', 'ubuntu', 'cloud'];

/** What the person asked for, validated. The password is never part of it. */
export interface InstallIdentity {
  readonly user: string;
  readonly hostname: string;
  /** IANA name (Europe/Berlin, UTC); mapped to Windows' own names for Windows. */
  readonly timezone: string;
  /** POSIX form, en_US; Windows gets en-US. */
  readonly locale: string;
  readonly sshKeys: readonly string[];
  readonly productKey?: string;
}

export class UnattendedError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnattendedError';
  }
}

const USER_RE = /^[a-z][a-z0-9_-]{0,31}$/;
const RESERVED_USERS = new Set(['root', 'administrator', 'admin', 'guest', 'nobody', 'daemon', 'bin', 'sys', 'defaultaccount', 'wdagutilityaccount']);
const HOST_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const TZ_RE = /^(?:UTC|[A-Z][A-Za-z]+(?:\/[A-Za-z0-9][A-Za-z0-9_+-]*){1,2}|Etc\/(?:UTC|GMT(?:[+-](?:1[0-4]|[0-9]))?))$/;
const LOCALE_RE = /^([a-z]{2,3})_([A-Z]{2})$/;
const PRODUCT_KEY_RE = /^[A-Z0-9]{5}(?:-[A-Z0-9]{5}){4}$/;
/** An OpenSSH public key line: type, base64 body, and an optional plain comment. */
const SSH_KEY_RE = /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]{16,16384}={0,3}(?: [A-Za-z0-9@._+:=-]{1,200})?$/;
export const SHA512_CRYPT_RE = /^\$6\$(?:rounds=\d{4,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$/;

export const PASSWORD_LIMITS = { min: 1, max: 256 } as const;

/** Checks a password's shape only (it is never stored); control characters break installers. */
export function checkPassword(password: string): void {
  if (password.length < PASSWORD_LIMITS.min || password.length > PASSWORD_LIMITS.max) {
    throw new UnattendedError('password', `the password must have ${PASSWORD_LIMITS.min} to ${PASSWORD_LIMITS.max} characters`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(password)) throw new UnattendedError('password', 'the password must not contain control characters (a line break at its end is trimmed)');
}

export interface IdentityInput {
  readonly user: string;
  readonly hostname?: string | undefined;
  readonly timezone?: string | undefined;
  readonly locale?: string | undefined;
  readonly sshKeys?: readonly string[] | undefined;
  readonly productKey?: string | undefined;
}

/** Validates what the person typed for `kind`; the host name defaults to one made from the VM's name. */
export function parseIdentity(input: IdentityInput, kind: SeedKind, vmName: string): InstallIdentity {
  const user = input.user;
  if (!USER_RE.test(user)) {
    throw new UnattendedError('user', `'${user}' is not a valid user name (lower-case letters, digits, _ and -, starting with a letter, at most 32)`);
  }
  if (RESERVED_USERS.has(user)) throw new UnattendedError('user', `'${user}' is a name the system reserves; choose another user name`);
  if (kind === 'windows' && user.length > 20) throw new UnattendedError('user', 'Windows user names have at most 20 characters');
  const hostname = input.hostname ?? defaultHostname(vmName);
  if (!HOST_RE.test(hostname) || /^[0-9]+$/.test(hostname)) {
    throw new UnattendedError('hostname', `'${hostname}' is not a valid host name (letters, digits and -, at most 63, not only digits)`);
  }
  if (kind === 'windows' && hostname.length > 15) throw new UnattendedError('hostname', 'Windows computer names have at most 15 characters');
  const timezone = input.timezone ?? 'UTC';
  if (!TZ_RE.test(timezone)) throw new UnattendedError('timezone', `'${timezone}' is not a time zone name such as Europe/Berlin or UTC`);
  if (kind === 'windows') windowsTimeZone(timezone);
  const locale = input.locale ?? 'en_US';
  if (!LOCALE_RE.test(locale)) throw new UnattendedError('locale', `'${locale}' is not a locale such as en_US or de_DE`);
  const sshKeys = (input.sshKeys ?? []).map((k) => k.trim()).filter((k) => k !== '');
  if (sshKeys.length > 16) throw new UnattendedError('sshKeys', 'at most 16 SSH keys');
  for (const k of sshKeys) {
    if (!SSH_KEY_RE.test(k)) throw new UnattendedError('sshKeys', `not an OpenSSH public key line (type, key, optional comment): '${k.slice(0, 40)}…'`);
  }
  if (kind === 'windows' && sshKeys.length) throw new UnattendedError('sshKeys', 'SSH keys are for Linux guests; Windows gets the user and password only');
  let productKey: string | undefined;
  if (input.productKey !== undefined && input.productKey !== '') {
    productKey = input.productKey.trim().toUpperCase();
    if (kind !== 'windows') throw new UnattendedError('productKey', 'a product key is for Windows only');
    if (!PRODUCT_KEY_RE.test(productKey)) throw new UnattendedError('productKey', 'a product key has five groups of five letters or digits (XXXXX-XXXXX-XXXXX-XXXXX-XXXXX)');
  }
  return { user, hostname, timezone, locale, sshKeys, ...(productKey ? { productKey } : {}) };
}

/** A VM named "Web Server 2" gets the host name web-server-2. */
export function defaultHostname(vmName: string): string {
  const h = vmName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 15).replace(/-+$/, '');
  return h && !/^[0-9]+$/.test(h) ? h : 'nestbox-vm';
}

/** The seed an OS type gets with an installer ISO, or with a disk image (cloud image). */
export function seedKindFor(osType: string, fromDiskImage: boolean): SeedKind {
  if (osType.startsWith('linux-') && fromDiskImage) return 'cloud';
  if (fromDiskImage) throw new UnattendedError('osType', 'an unattended setup of a disk image needs a Linux cloud image (cloud-init); pick a Linux OS type');
  switch (osType) {
    case 'windows-11':
    case 'windows-10':
    case 'windows-server-2022':
    case 'windows-server-2025':
      return 'windows';
    case 'linux-debian':
      return 'debian';
    case 'linux-ubuntu':
      return 'ubuntu';
    default:
      throw new UnattendedError(
        'osType',
        `Nestbox cannot install '${osType}' automatically; it can install Windows 10, 11 and Server 2022/2025, Debian and Ubuntu Server from their ISOs, and set up Linux cloud images`,
      );
  }
}

// ---------------------------------------------------------------- Windows

/** IANA → Windows time zone ids (the common ones; CLDR's windowsZones is the full table). */
const WINDOWS_ZONES: Readonly<Record<string, string>> = {
  UTC: 'UTC', 'Etc/UTC': 'UTC', 'Europe/London': 'GMT Standard Time', 'Europe/Dublin': 'GMT Standard Time', 'Europe/Lisbon': 'GMT Standard Time',
  'Europe/Berlin': 'W. Europe Standard Time', 'Europe/Amsterdam': 'W. Europe Standard Time', 'Europe/Vienna': 'W. Europe Standard Time',
  'Europe/Zurich': 'W. Europe Standard Time', 'Europe/Rome': 'W. Europe Standard Time', 'Europe/Stockholm': 'W. Europe Standard Time', 'Europe/Oslo': 'W. Europe Standard Time',
  'Europe/Paris': 'Romance Standard Time', 'Europe/Brussels': 'Romance Standard Time', 'Europe/Madrid': 'Romance Standard Time', 'Europe/Copenhagen': 'Romance Standard Time',
  'Europe/Prague': 'Central Europe Standard Time', 'Europe/Budapest': 'Central Europe Standard Time', 'Europe/Warsaw': 'Central European Standard Time',
  'Europe/Athens': 'GTB Standard Time', 'Europe/Bucharest': 'GTB Standard Time', 'Europe/Helsinki': 'FLE Standard Time', 'Europe/Kiev': 'FLE Standard Time', 'Europe/Kyiv': 'FLE Standard Time',
  'Europe/Istanbul': 'Turkey Standard Time', 'Europe/Moscow': 'Russian Standard Time',
  'America/New_York': 'Eastern Standard Time', 'America/Toronto': 'Eastern Standard Time', 'America/Chicago': 'Central Standard Time', 'America/Denver': 'Mountain Standard Time',
  'America/Phoenix': 'US Mountain Standard Time', 'America/Los_Angeles': 'Pacific Standard Time', 'America/Vancouver': 'Pacific Standard Time', 'America/Anchorage': 'Alaskan Standard Time',
  'Pacific/Honolulu': 'Hawaiian Standard Time', 'America/Mexico_City': 'Central Standard Time (Mexico)', 'America/Sao_Paulo': 'E. South America Standard Time',
  'America/Argentina/Buenos_Aires': 'Argentina Standard Time', 'America/Bogota': 'SA Pacific Standard Time', 'America/Halifax': 'Atlantic Standard Time',
  'Asia/Tokyo': 'Tokyo Standard Time', 'Asia/Seoul': 'Korea Standard Time', 'Asia/Shanghai': 'China Standard Time', 'Asia/Hong_Kong': 'China Standard Time',
  'Asia/Taipei': 'Taipei Standard Time', 'Asia/Singapore': 'Singapore Standard Time', 'Asia/Kolkata': 'India Standard Time', 'Asia/Dubai': 'Arabian Standard Time',
  'Asia/Jerusalem': 'Israel Standard Time', 'Asia/Bangkok': 'SE Asia Standard Time', 'Asia/Jakarta': 'SE Asia Standard Time', 'Africa/Johannesburg': 'South Africa Standard Time',
  'Africa/Cairo': 'Egypt Standard Time', 'Africa/Lagos': 'W. Central Africa Standard Time', 'Africa/Nairobi': 'E. Africa Standard Time',
  'Australia/Sydney': 'AUS Eastern Standard Time', 'Australia/Melbourne': 'AUS Eastern Standard Time', 'Australia/Brisbane': 'E. Australia Standard Time',
  'Australia/Perth': 'W. Australia Standard Time', 'Australia/Adelaide': 'Cen. Australia Standard Time', 'Pacific/Auckland': 'New Zealand Standard Time',
};

/** Windows names its time zones itself ("W. Europe Standard Time"); an unknown one is refused, not guessed. */
export function windowsTimeZone(iana: string): string {
  const z = WINDOWS_ZONES[iana];
  if (!z) throw new UnattendedError('timezone', `Nestbox does not know Windows' name for the time zone '${iana}'; choose a nearby city's zone or UTC`);
  return z;
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export interface AutounattendInput {
  readonly identity: InstallIdentity;
  readonly firmware: 'bios' | 'uefi';
  /**
   * The password as Windows' answer files define a hidden one: base64 of the UTF-16LE bytes
   * of the password followed by the element's name ("Password"), with PlainText false. This
   * is obfuscation, not hashing (Windows has no hashed form here), which is why the seed is
   * deleted when the install ends.
   */
  readonly passwordValue: string;
}

const COMPONENT = 'processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';

/** The partitions Windows Setup creates on disk 0, and the one it installs to. */
export function windowsDiskLayout(firmware: 'bios' | 'uefi'): { readonly xml: string; readonly installPartition: number } {
  if (firmware === 'uefi') {
    // GPT: EFI system partition, Microsoft reserved, Windows (Microsoft's recommended UEFI layout).
    return {
      installPartition: 3,
      xml: `          <DiskConfiguration>
            <Disk wcm:action="add">
              <DiskID>0</DiskID>
              <WillWipeDisk>true</WillWipeDisk>
              <CreatePartitions>
                <CreatePartition wcm:action="add"><Order>1</Order><Type>EFI</Type><Size>260</Size></CreatePartition>
                <CreatePartition wcm:action="add"><Order>2</Order><Type>MSR</Type><Size>16</Size></CreatePartition>
                <CreatePartition wcm:action="add"><Order>3</Order><Type>Primary</Type><Extend>true</Extend></CreatePartition>
              </CreatePartitions>
              <ModifyPartitions>
                <ModifyPartition wcm:action="add"><Order>1</Order><PartitionID>1</PartitionID><Format>FAT32</Format><Label>System</Label></ModifyPartition>
                <ModifyPartition wcm:action="add"><Order>2</Order><PartitionID>3</PartitionID><Format>NTFS</Format><Label>Windows</Label><Letter>C</Letter></ModifyPartition>
              </ModifyPartitions>
            </Disk>
          </DiskConfiguration>`,
    };
  }
  // MBR: an active "System Reserved" partition for the boot files, then Windows.
  return {
    installPartition: 2,
    xml: `          <DiskConfiguration>
            <Disk wcm:action="add">
              <DiskID>0</DiskID>
              <WillWipeDisk>true</WillWipeDisk>
              <CreatePartitions>
                <CreatePartition wcm:action="add"><Order>1</Order><Type>Primary</Type><Size>500</Size></CreatePartition>
                <CreatePartition wcm:action="add"><Order>2</Order><Type>Primary</Type><Extend>true</Extend></CreatePartition>
              </CreatePartitions>
              <ModifyPartitions>
                <ModifyPartition wcm:action="add"><Order>1</Order><PartitionID>1</PartitionID><Format>NTFS</Format><Label>System Reserved</Label><Active>true</Active></ModifyPartition>
                <ModifyPartition wcm:action="add"><Order>2</Order><PartitionID>2</PartitionID><Format>NTFS</Format><Label>Windows</Label><Letter>C</Letter></ModifyPartition>
              </ModifyPartitions>
            </Disk>
          </DiskConfiguration>`,
  };
}

/** `autounattend.xml` for Windows 10/11/Server: disk, locale, product key, the user, no online-account screens. */
export function buildAutounattend(input: AutounattendInput): string {
  const id = input.identity;
  const lang = id.locale.replace('_', '-');
  const disk = windowsDiskLayout(input.firmware);
  const key = id.productKey
    ? `          <ProductKey>
            <Key>${xml(id.productKey)}</Key>
            <WillShowUI>OnError</WillShowUI>
          </ProductKey>
`
    : '';
  const user = xml(id.user);
  return `<?xml version="1.0" encoding="utf-8"?>
<!-- Made by Nestbox for an unattended install; deleted by Nestbox when the install ends. -->
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <settings pass="windowsPE">
    <component name="Microsoft-Windows-International-Core-WinPE" ${COMPONENT}>
      <SetupUILanguage><UILanguage>${xml(lang)}</UILanguage></SetupUILanguage>
      <InputLocale>${xml(lang)}</InputLocale>
      <SystemLocale>${xml(lang)}</SystemLocale>
      <UILanguage>${xml(lang)}</UILanguage>
      <UserLocale>${xml(lang)}</UserLocale>
    </component>
    <component name="Microsoft-Windows-Setup" ${COMPONENT}>
${disk.xml}
      <ImageInstall>
        <OSImage>
          <InstallTo><DiskID>0</DiskID><PartitionID>${disk.installPartition}</PartitionID></InstallTo>
          <WillShowUI>OnError</WillShowUI>
        </OSImage>
      </ImageInstall>
      <UserData>
${key}        <AcceptEula>true</AcceptEula>
      </UserData>
    </component>
  </settings>
  <settings pass="specialize">
    <component name="Microsoft-Windows-Shell-Setup" ${COMPONENT}>
      <ComputerName>${xml(id.hostname)}</ComputerName>
      <TimeZone>${xml(windowsTimeZone(id.timezone))}</TimeZone>
    </component>
    <component name="Microsoft-Windows-Deployment" ${COMPONENT}>
      <RunSynchronous>
        <RunSynchronousCommand wcm:action="add">
          <Order>1</Order>
          <Description>Allow setup without a network connection (no Microsoft account screen)</Description>
          <Path>reg.exe add HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\OOBE /v BypassNRO /t REG_DWORD /d 1 /f</Path>
        </RunSynchronousCommand>
      </RunSynchronous>
    </component>
  </settings>
  <settings pass="oobeSystem">
    <component name="Microsoft-Windows-International-Core" ${COMPONENT}>
      <InputLocale>${xml(lang)}</InputLocale>
      <SystemLocale>${xml(lang)}</SystemLocale>
      <UILanguage>${xml(lang)}</UILanguage>
      <UserLocale>${xml(lang)}</UserLocale>
    </component>
    <component name="Microsoft-Windows-Shell-Setup" ${COMPONENT}>
      <OOBE>
        <HideEULAPage>true</HideEULAPage>
        <HideOEMRegistrationScreen>true</HideOEMRegistrationScreen>
        <HideOnlineAccountScreens>true</HideOnlineAccountScreens>
        <HideWirelessSetupInOOBE>true</HideWirelessSetupInOOBE>
        <HideLocalAccountScreen>true</HideLocalAccountScreen>
        <ProtectYourPC>3</ProtectYourPC>
      </OOBE>
      <UserAccounts>
        <LocalAccounts>
          <LocalAccount wcm:action="add">
            <Name>${user}</Name>
            <DisplayName>${user}</DisplayName>
            <Group>Administrators</Group>
            <Password>
              <Value>${xml(input.passwordValue)}</Value>
              <PlainText>false</PlainText>
            </Password>
          </LocalAccount>
        </LocalAccounts>
      </UserAccounts>
    </component>
  </settings>
</unattend>
`;
}

// ---------------------------------------------------------------- Debian

/** The xkb layout most people in a locale's country use (de_DE → de); us where unsure. */
export function keyboardFor(locale: string): string {
  const country = LOCALE_RE.exec(locale)?.[2]?.toLowerCase() ?? 'us';
  const same = ['de', 'fr', 'it', 'es', 'pt', 'br', 'se', 'fi', 'no', 'dk', 'pl', 'cz', 'sk', 'hu', 'ro', 'gr', 'tr', 'ru', 'ua', 'jp', 'ch', 'be', 'nl', 'ie', 'in', 'il', 'latam'];
  if (country === 'gb') return 'gb';
  if (country === 'at') return 'de';
  return same.includes(country) ? country : 'us';
}

export interface LinuxSeedInput {
  readonly identity: InstallIdentity;
  /** SHA-512 crypt of the password (`$6$…`). */
  readonly passwordHash: string;
}

function requireHash(h: string): void {
  if (!SHA512_CRYPT_RE.test(h)) throw new UnattendedError('password', 'internal: the Linux seeds take a SHA-512 crypt hash');
}

/**
 * The preseed for Debian's installer: everything asked up front, a whole-disk guided layout
 * (it picks the ESP under UEFI itself), the user with its hashed password and no root login,
 * SSH server, and power off at the end (that is how Nestbox knows the install is done).
 */
export function buildPreseed(input: LinuxSeedInput): string {
  requireHash(input.passwordHash);
  const id = input.identity;
  const lines = [
    '# Made by Nestbox for an unattended install; deleted by Nestbox when the install ends.',
    `d-i debian-installer/locale string ${id.locale}.UTF-8`,
    `d-i keyboard-configuration/xkb-keymap select ${keyboardFor(id.locale)}`,
    'd-i netcfg/choose_interface select auto',
    `d-i netcfg/get_hostname string ${id.hostname}`,
    'd-i netcfg/get_domain string',
    `d-i netcfg/hostname string ${id.hostname}`,
    'd-i hw-detect/load_firmware boolean false',
    'd-i mirror/country string manual',
    'd-i mirror/http/hostname string deb.debian.org',
    'd-i mirror/http/directory string /debian',
    'd-i mirror/http/proxy string',
    'd-i passwd/root-login boolean false',
    `d-i passwd/user-fullname string ${id.user}`,
    `d-i passwd/username string ${id.user}`,
    `d-i passwd/user-password-crypted password ${input.passwordHash}`,
    'd-i clock-setup/utc boolean true',
    `d-i time/zone string ${id.timezone}`,
    'd-i clock-setup/ntp boolean true',
    'd-i partman-auto/method string regular',
    'd-i partman-auto/choose_recipe select atomic',
    'd-i partman-partitioning/confirm_write_new_label boolean true',
    'd-i partman/choose_partition select finish',
    'd-i partman/confirm boolean true',
    'd-i partman/confirm_nooverwrite boolean true',
    'd-i partman-efi/non_efi_system boolean true',
    'd-i apt-setup/cdrom/set-first boolean false',
    'd-i apt-setup/disable-cdrom-entries boolean true',
    'tasksel tasksel/first multiselect standard, ssh-server',
    'd-i pkgsel/upgrade select none',
    'popularity-contest popularity-contest/participate boolean false',
    'd-i grub-installer/only_debian boolean true',
    'd-i grub-installer/bootdev string default',
    'd-i finish-install/reboot_in_progress note',
    'd-i debian-installer/exit/poweroff boolean true',
  ];
  if (id.sshKeys.length) {
    // Keys are checked against SSH_KEY_RE (no quotes, no shell characters) before they get here.
    const keys = id.sshKeys.map((k) => `'${k}'`).join(' ');
    const home = `/home/${id.user}`;
    lines.push(
      `d-i preseed/late_command string in-target sh -c 'mkdir -p ${home}/.ssh && chmod 700 ${home}/.ssh' ; ` +
        `for k in ${keys}; do echo "$k" >> /target${home}/.ssh/authorized_keys; done ; ` +
        `in-target sh -c 'chmod 600 ${home}/.ssh/authorized_keys && chown -R ${id.user}: ${home}/.ssh'`,
    );
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- cloud-init (cloud images, Ubuntu)

/** YAML scalars are written as JSON strings (JSON is YAML), so no value can start a new key. */
const q = (s: string): string => JSON.stringify(s);

/** NoCloud `meta-data`: a fresh instance id makes cloud-init run its first-boot steps. */
export function buildMetaData(instanceId: string, hostname: string): string {
  return `instance-id: ${q(instanceId)}\nlocal-hostname: ${q(hostname)}\n`;
}

/** cloud-config `user-data` for a cloud image: the user (sudo), its password hash and keys, the host name, zone and locale. */
export function buildCloudUserData(input: LinuxSeedInput): string {
  requireHash(input.passwordHash);
  const id = input.identity;
  const keys = id.sshKeys.length ? `    ssh_authorized_keys:\n${id.sshKeys.map((k) => `      - ${q(k)}\n`).join('')}` : '';
  return (
    '#cloud-config\n' +
    '# Made by Nestbox; the seed CD is detached and deleted when the first boot ends.\n' +
    `hostname: ${q(id.hostname)}\n` +
    `timezone: ${q(id.timezone)}\n` +
    `locale: ${q(`${id.locale}.UTF-8`)}\n` +
    'ssh_pwauth: true\n' +
    'users:\n' +
    `  - name: ${q(id.user)}\n` +
    `    passwd: ${q(input.passwordHash)}\n` +
    '    lock_passwd: false\n' +
    '    shell: "/bin/bash"\n' +
    '    groups: ["sudo"]\n' +
    '    sudo: "ALL=(ALL) ALL"\n' +
    keys
  );
}

/** Subiquity's autoinstall, as cloud-config `user-data` on the NoCloud CD; powers off at the end. */
export function buildAutoinstallUserData(input: LinuxSeedInput): string {
  requireHash(input.passwordHash);
  const id = input.identity;
  const keys = id.sshKeys.length ? `      authorized-keys:\n${id.sshKeys.map((k) => `        - ${q(k)}\n`).join('')}` : '      authorized-keys: []\n';
  return (
    '#cloud-config\n' +
    '# Made by Nestbox for an unattended install; deleted by Nestbox when the install ends.\n' +
    'autoinstall:\n' +
    '  version: 1\n' +
    `  locale: ${q(`${id.locale}.UTF-8`)}\n` +
    `  keyboard: {layout: ${q(keyboardFor(id.locale))}}\n` +
    `  timezone: ${q(id.timezone)}\n` +
    '  identity:\n' +
    `    hostname: ${q(id.hostname)}\n` +
    `    username: ${q(id.user)}\n` +
    `    realname: ${q(id.user)}\n` +
    `    password: ${q(input.passwordHash)}\n` +
    '  ssh:\n' +
    '    install-server: true\n' +
    '    allow-pw: true\n' +
    keys +
    '  storage:\n' +
    '    layout: {name: direct}\n' +
    '  shutdown: poweroff\n'
  );
}

// ---------------------------------------------------------------- installer boot

/** Where an installer ISO keeps its kernel and initrd, and the arguments its own boot menu passes. */
export interface InstallerBoot {
  readonly kernel: string;
  readonly initrd: string;
  /** Arguments before the `---` separator (the installer's own) and after it (passed to the installed system). */
  readonly args: readonly string[];
  readonly tail: readonly string[];
}

const DEFAULT_BOOT: Readonly<Record<'debian' | 'ubuntu', InstallerBoot>> = {
  debian: { kernel: '/install.amd/vmlinuz', initrd: '/install.amd/initrd.gz', args: [], tail: ['quiet'] },
  ubuntu: { kernel: '/casper/vmlinuz', initrd: '/casper/initrd', args: [], tail: [] },
};

/**
 * Reads the first menu entry of the ISO's `boot/grub/grub.cfg` (the one its boot menu starts
 * by default): the kernel and initrd paths and its arguments. Entries for the graphical or
 * speech installer are passed over. Falls back to the paths these ISOs have used for years.
 */
export function installerBoot(kind: 'debian' | 'ubuntu', grubCfg: string | null): InstallerBoot {
  const fallback = DEFAULT_BOOT[kind];
  if (!grubCfg) return fallback;
  const lines = grubCfg.split('\n').map((l) => l.trim());
  for (let i = 0; i < lines.length; i++) {
    const m = /^linux(?:16|efi)?\s+(\/\S+)\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const kernel = m[1]!;
    if (/\/gtk\/|speakup|\/xen\//.test(kernel)) continue;
    const initrdLine = lines.slice(i + 1, i + 4).map((l) => /^initrd(?:16|efi)?\s+(\/\S+)/.exec(l)).find((x) => x);
    // The graphical and speech installers share the kernel; their initrds give them away.
    if (!initrdLine || /\/gtk\/|speakup|\/xen\//.test(initrdLine[1]!)) continue;
    const words = m[2]!.split(/\s+/).filter((w) => w !== '' && !w.startsWith('$'));
    const sep = words.indexOf('---');
    const args = (sep < 0 ? words : words.slice(0, sep)).filter((w) => /^[A-Za-z0-9_.,:=/-]+$/.test(w));
    const tail = sep < 0 ? [] : words.slice(sep + 1).filter((w) => /^[A-Za-z0-9_.,:=/-]+$/.test(w));
    return { kernel, initrd: initrdLine[1]!, args, tail };
  }
  return fallback;
}

/** The kernel command line for the install: the ISO's own arguments plus what makes the installer ask nothing. */
export function installerAppend(kind: 'debian' | 'ubuntu', boot: InstallerBoot, identity: InstallIdentity): string {
  const ours =
    kind === 'debian'
      ? ['auto=true', 'priority=critical', `locale=${identity.locale}.UTF-8`, `keymap=${keyboardFor(identity.locale)}`, `hostname=${identity.hostname}`, 'domain=']
      : ['autoinstall'];
  const args = [...boot.args.filter((a) => !ours.some((o) => o.split('=')[0] === a.split('=')[0])), ...ours];
  return [...args, '---', ...boot.tail].join(' ');
}
