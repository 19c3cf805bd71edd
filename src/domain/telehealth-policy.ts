// Telehealth link policy: which links a provider may give clients, and what to warn about.
// Rules (practice compliance article): the platform must be HIPAA-compliant with a signed BAA,
// the link must be https, FaceTime and phone video calls are not accepted, and a default private
// room or waiting room must be on so that clients never overlap.

export interface TelehealthPlatform {
  /** Stable id stored on VirtualLocation.platform. */
  id: string;
  name: string;
  /** A link matches when its host equals one of these or is a subdomain of one. */
  hosts: readonly string[];
  /** The platform puts clients in a waiting room / lobby until admitted, without any setting. */
  defaultWaitingRoom: boolean;
  /** What a provider should know: BAA availability, where the waiting-room setting lives. */
  note?: string;
}

export type LinkCheck =
  | { ok: true; /** Normalised WHATWG href. */ url: string; platform: TelehealthPlatform | null; warnings: string[] }
  | { ok: false; reason: string };

export const MAX_TELEHEALTH_LINK_LENGTH = 2048;

// Only platforms whose hosts are certain are listed; an unlisted host is still accepted, with a
// BAA warning. defaultWaitingRoom is true only where every account gets a waiting room without
// changing a setting; false merely makes the provider confirm it (waitingRoomWarnings).
export const TELEHEALTH_PLATFORMS: readonly TelehealthPlatform[] = [
  {
    id: 'zoom',
    name: 'Zoom',
    hosts: ['zoom.us', 'zoom.com', 'zoomgov.com'],
    defaultWaitingRoom: false,
    note: 'Needs an account covered by a Zoom BAA (Zoom for Healthcare or a business plan with a signed BAA). Turn on "Waiting Room" for your Personal Meeting ID.',
  },
  {
    id: 'doxy',
    name: 'Doxy.me',
    hosts: ['doxy.me'],
    defaultWaitingRoom: true,
    note: 'Clients wait in your waiting room by default; customising it needs a paid plan.',
  },
  {
    id: 'google-meet',
    name: 'Google Meet',
    hosts: ['meet.google.com'],
    defaultWaitingRoom: false,
    note: 'Covered only under a Google Workspace account with Google\'s BAA accepted; personal Gmail accounts are not. Guests invited to the event join without knocking.',
  },
  {
    id: 'microsoft-teams',
    name: 'Microsoft Teams',
    hosts: ['teams.microsoft.com', 'teams.live.com'],
    defaultWaitingRoom: false,
    note: 'Covered by Microsoft\'s BAA only for Microsoft 365 business/enterprise tenants, not Teams (free) on teams.live.com. Set "Who can bypass the lobby" so that clients wait in the lobby.',
  },
  {
    id: 'vsee',
    name: 'VSee Clinic',
    hosts: ['vsee.com', 'vsee.me'],
    defaultWaitingRoom: true,
    note: 'VSee Clinic rooms have a waiting room by default.',
  },
  {
    id: 'webex',
    name: 'Webex',
    hosts: ['webex.com'],
    defaultWaitingRoom: false,
    note: 'Needs a Webex plan with a BAA. Lock your Personal Room (automatic lock) so that clients wait in the lobby.',
  },
  {
    id: 'simplepractice',
    name: 'SimplePractice Telehealth',
    hosts: ['video.simplepractice.com', 'simplepractice.com'],
    defaultWaitingRoom: true,
    note: 'Clients wait until the clinician admits them.',
  },
  { id: 'jane', name: 'Jane (Online Appointments)', hosts: ['janeapp.com'], defaultWaitingRoom: true },
  { id: 'thera-link', name: 'thera-LINK', hosts: ['thera-link.com'], defaultWaitingRoom: true },
  { id: 'therapynotes', name: 'TherapyNotes Telehealth', hosts: ['therapynotes.com'], defaultWaitingRoom: false },
  { id: 'theranest', name: 'TheraNest', hosts: ['theranest.com'], defaultWaitingRoom: false },
  { id: 'theraplatform', name: 'TheraPlatform', hosts: ['theraplatform.com'], defaultWaitingRoom: false },
  { id: 'spruce', name: 'Spruce Health', hosts: ['sprucehealth.com'], defaultWaitingRoom: false },
  { id: 'healthie', name: 'Healthie', hosts: ['gethealthie.com'], defaultWaitingRoom: false },
  { id: 'sessions-health', name: 'SessionsHealth', hosts: ['sessionshealth.com'], defaultWaitingRoom: false },
  { id: 'therapyappointment', name: 'TherapyAppointment', hosts: ['therapyappointment.com'], defaultWaitingRoom: false },
  { id: 'intakeq', name: 'IntakeQ Telehealth', hosts: ['intakeq.com'], defaultWaitingRoom: false },
  { id: 'practice-better', name: 'Practice Better', hosts: ['practicebetter.io'], defaultWaitingRoom: false },
  { id: 'valant', name: 'Valant', hosts: ['valant.io'], defaultWaitingRoom: false },
  { id: 'amwell', name: 'Amwell', hosts: ['amwell.com'], defaultWaitingRoom: false },
  { id: 'updox', name: 'Updox', hosts: ['updox.com'], defaultWaitingRoom: false },
];

// Host-specific warnings that do not make a link unacceptable but need the provider's attention.
const HOST_WARNINGS: readonly { host: string; warning: string }[] = [
  {
    host: 'teams.live.com',
    warning: 'teams.live.com links come from Microsoft Teams (free), which Microsoft\'s BAA does not cover: use a Teams meeting from a Microsoft 365 business account.',
  },
];

// C0, DEL, C1 (Cc), invisible format characters such as zero-width space and bidi overrides
// (Cf: they hide what a link really says), and any whitespace. WHATWG URL parsing silently drops
// tabs and newlines, so this runs on the raw text, before parsing.
const FORBIDDEN_CHARACTER = /[\p{Cc}\p{Cf}\s]/u;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** Host without a trailing root dot ("zoom.us." and "zoom.us" are the same DNS name). */
function bareHost(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

function hostMatches(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/** The platform a host belongs to (longest matching domain wins), or null for an unknown host. */
export function platformForHost(hostname: string): TelehealthPlatform | null {
  const host = bareHost(hostname);
  let best: { platform: TelehealthPlatform; length: number } | null = null;
  for (const platform of TELEHEALTH_PLATFORMS) {
    for (const domain of platform.hosts) {
      if (hostMatches(host, domain) && (best === null || domain.length > best.length)) {
        best = { platform, length: domain.length };
      }
    }
  }
  return best?.platform ?? null;
}

/** The platform with this id (as stored on VirtualLocation.platform), or null. */
export function telehealthPlatformById(id: string | null): TelehealthPlatform | null {
  return id === null ? null : (TELEHEALTH_PLATFORMS.find((p) => p.id === id) ?? null);
}

function refused(reason: string): LinkCheck {
  return { ok: false, reason };
}

function refusedScheme(protocol: string): LinkCheck {
  switch (protocol) {
    case 'facetime:':
    case 'facetime-audio:':
      return refused('FaceTime links are not an accepted telehealth platform (not HIPAA-protected).');
    case 'http:':
      return refused('http:// links are not encrypted: use the https:// link of a HIPAA-compliant telehealth platform.');
    case 'tel:':
    case 'callto:':
      return refused('Phone call links are not an accepted telehealth platform: use the https:// link of a HIPAA-compliant video platform.');
    case 'sms:':
    case 'mms:':
      return refused('Text message links are not an accepted telehealth platform: use the https:// link of a HIPAA-compliant video platform.');
    default:
      return refused(`Only https:// links are accepted; this link uses "${protocol}".`);
  }
}

/**
 * Checks a telehealth link against the policy. Surrounding whitespace is trimmed; everything else
 * that is wrong refuses the link with a reason a provider can act on.
 */
export function checkTelehealthLink(raw: string): LinkCheck {
  const text = raw.trim();
  if (text === '') return refused('The telehealth link is empty.');
  if (text.length > MAX_TELEHEALTH_LINK_LENGTH) {
    return refused(`The telehealth link is longer than ${MAX_TELEHEALTH_LINK_LENGTH} characters.`);
  }
  if (FORBIDDEN_CHARACTER.test(text)) {
    return refused('The telehealth link contains a space, tab, line break or another control or invisible character: paste the link exactly as the platform gives it.');
  }

  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refused('The telehealth link is not a valid absolute URL: it must start with https://.');
  }

  if (url.protocol !== 'https:') return refusedScheme(url.protocol);
  const host = bareHost(url.hostname);
  if (host === '') return refused('The telehealth link has no host.');
  if (hostMatches(host, 'facetime.apple.com')) {
    return refused('FaceTime links are not an accepted telehealth platform (not HIPAA-protected).');
  }
  if (url.username !== '' || url.password !== '') {
    return refused('The telehealth link contains a user name or password: remove the credentials (the part before "@").');
  }
  // WHATWG parsing has already turned every numeric host form (0x7f.1, 2130706433) into
  // dotted IPv4, and IPv6 literals keep their brackets.
  if (host.startsWith('[') || IPV4.test(host)) {
    return refused('The telehealth link points to an IP address, not a platform host name: a bare IP is not a known platform and defeats TLS host name checks.');
  }
  if (hostMatches(host, 'localhost')) {
    return refused('The telehealth link points to localhost, which clients cannot reach.');
  }
  if (!host.includes('.')) {
    return refused(`The telehealth link's host "${host}" is not a public host name.`);
  }
  if (url.href.length > MAX_TELEHEALTH_LINK_LENGTH) {
    return refused(`The telehealth link is longer than ${MAX_TELEHEALTH_LINK_LENGTH} characters once normalised.`);
  }

  const platform = platformForHost(host);
  const warnings: string[] = [];
  if (platform === null) {
    warnings.push(
      `${host} is not a recognised HIPAA-capable telehealth platform: use it only if it is HIPAA-compliant and a BAA (Business Associate Agreement) is signed with it.`,
    );
  }
  for (const { host: warnedHost, warning } of HOST_WARNINGS) {
    if (hostMatches(host, warnedHost)) warnings.push(warning);
  }
  return { ok: true, url: url.href, platform, warnings };
}

/**
 * What to tell a provider about the waiting room of a link: nothing when they confirmed it is on
 * or the platform always has one; otherwise one warning. An explicit "off" is warned about even
 * on a platform whose default is on (the provider changed the default).
 */
export function waitingRoomWarnings(platform: TelehealthPlatform | null, waitingRoom: boolean | null): string[] {
  if (waitingRoom === true) return [];
  if (waitingRoom === false) {
    return ['The waiting room is off for this link: switch on a waiting room (or a locked private room) so that you admit each client and clients never overlap.'];
  }
  if (platform?.defaultWaitingRoom === true) return [];
  const subject = platform === null ? 'This platform is not recognised and may not have' : `${platform.name} does not always have`;
  return [`${subject} a waiting room by default: switch on a waiting room (or a locked private room) so that you admit each client and clients never overlap, then confirm it.`];
}

const ZOOM_MEETING_PATH = /^\/(?:j|s|wc\/join)\/(\d+)$|^\/wc\/(\d+)\/(?:join|start)$/;

/**
 * The identity of a meeting room, for the overlap guard: two links with the same key open the same
 * room. Key = host (lower-case, no trailing dot, no leading "www.", port only when not 443) +
 * pathname (lower-case, no trailing slash). Query and fragment are ignored: they carry passwords,
 * tracking or display options (Zoom "?pwd=", Meet "?authuser=", Doxy "#"), not the room.
 * The path is lower-cased so that a room typed in another case (doxy.me/DrSmith vs /drsmith) or
 * with other percent-escape case (%3A vs %3a in Teams links) is still the same room: a false
 * "same room" only asks for a check, a missed one lets two clients into one room.
 * Zoom: meeting ids are global, so every subdomain (regional us02web., vanity acme., app.) and
 * zoom.com collapse to zoom.us, and the join/start/web-client paths of one meeting id to /j/<id>;
 * ZoomGov is a separate cloud and collapses to zoomgov.com.
 * An unparseable input (never a policy-checked link) is keyed by its trimmed lower-case text.
 */
export function linkKey(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return url.trim().toLowerCase();
  }
  let host = bareHost(parsed.hostname).replace(/^www\./, '');
  let path = parsed.pathname.toLowerCase().replace(/\/+$/, '');

  if (hostMatches(host, 'zoom.us') || hostMatches(host, 'zoom.com') || hostMatches(host, 'zoomgov.com')) {
    host = hostMatches(host, 'zoomgov.com') ? 'zoomgov.com' : 'zoom.us';
    const meeting = ZOOM_MEETING_PATH.exec(path);
    const id = meeting?.[1] ?? meeting?.[2];
    if (id !== undefined) path = `/j/${id}`;
  }
  const port = parsed.port === '' ? '' : `:${parsed.port}`;
  return `${host}${port}${path}`;
}
