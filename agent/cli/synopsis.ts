/**
 * Each command's one-line synopsis: shown in `capsule --help` and as the hint on usage errors.
 */
export const KEYGEN = 'capsule keygen [-o FILE]';
export const SEAL = 'capsule seal FILE|- (--guardian age1…|capsule-ecdh1…|capsule-tpm1… [--guardian …] | --on-guardian x25519|p256-ecdh|zymbit-lock|tpm2-rsa [--data-dir D]) --logic MODULE.wasm [--params JSON | --params-file F] [--logic-cid CID] [--sign-with IDENTITY] [--salted-digest] -o OUT [--publish [--guardian-key capsule-guardian1…] [--ipfs helia|kubo:URL] [--peer MULTIADDR]…]';
export const INSPECT = 'capsule inspect CAPSULE|- [--json]';
export const VERIFY = 'capsule verify CAPSULE|- [--logic MODULE.wasm] [--guardian-key capsule-guardian1…] [--json]';
export const DECRYPT = 'capsule decrypt CAPSULE|- (--identity FILE | --on-guardian [--data-dir D]) [-o OUT]';
export const LOGIC_BUILD = 'capsule logic build POLICY.ts -o POLICY.wasm';
export const LOGIC_CHECK = 'capsule logic check POLICY.wasm [--json]';
export const LOGIC_RUN = 'capsule logic run POLICY.wasm --capsule C.capsule --requester age1… --at TIME [--approval FILE]… [--state FILE] [--fuel N] [--json]';
export const GUARDIAN_INIT = 'capsule guardian init [--backend zymbit|tpm2|soft [--pcrs LIST]] [--data-dir D] [--force] [--restore [--mnemonic-from-stdin]] [--confirm-words-from-stdin] [--mnemonic-to-stdout] [--allow-unisolated] [--json]';
export const GUARDIAN_SHOW = 'capsule guardian show [--data-dir D] [--json]';
export const AGENT = 'capsule agent [--config FILE] [--data-dir D] [--listen HOST:PORT] [--lan] [--clock module|system|file:PATH] [--ipfs helia|kubo:URL|off] [--ipfs-listen MULTIADDR]… [--peer MULTIADDR]… [--accept-rollback]';
export const OPEN = 'capsule open CAPSULE|CID --guardian URL --identity FILE [--approval FILE]… [--receipts DIR] -o OUT';
export const LOGIC_PUSH = 'capsule logic push MODULE.wasm --guardian URL';
export const AUDIT_VERIFY = 'capsule audit verify [AUDIT.log | --data-dir D] [--guardian-key capsule-guardian1… | --unpinned] [--receipt FILE]… [--replay [--modules DIR]]';
export const CHECKIN = 'capsule checkin CAPSULE --guardian URL --key OWNER.key';
export const APPROVE = 'capsule approve CAPSULE --requester age1… (--key ED25519.key | --eth-key HEX.key) [--guardian URL] [-o APPROVAL.json]';
export const SIGN_REQUEST = 'capsule sign-request --guardian URL --slot N --digest HEX --identity FILE [--approval FILE]…';
export const WALLET_CREATE = 'capsule wallet create NAME [--data-dir D] [--mnemonic-to-stdout]';
export const WALLET_RESTORE = 'capsule wallet restore NAME [--data-dir D] < WORDS';
export const WALLET_SHOW = 'capsule wallet show [--data-dir D] [--json]';
export const WALLET_ADDRESS = 'capsule wallet address NAME PATH [--data-dir D] [--network mainnet|testnet|regtest]';
export const WALLET_SIGN = 'capsule wallet sign --guardian URL --wallet NAME --path PATH --identity FILE (--eth-tx JSON|HEX | --typed-data FILE | --message TEXT | --psbt FILE | --digest HEX) [--approval FILE]…';
export const PUBLISH = 'capsule publish CAPSULE [--logic MODULE.wasm] [--sign-with IDENTITY [--guardian-key capsule-guardian1…]] [--ipfs helia|kubo:URL] [--data-dir D] [--peer MULTIADDR]…';
export const FETCH = 'capsule fetch CID -o OUT|- [--max-size BYTES] [--timeout SECONDS] [--ipfs helia|kubo:URL] [--data-dir D] [--peer MULTIADDR]…';
export const WATCH = 'capsule watch [--ipfs helia|kubo:URL] [--data-dir D] [--ipfs-listen MULTIADDR]… [--peer MULTIADDR]… [--count N]';
export const DEVICE_LUKS_ENROLL = 'capsule device luks-enroll DEVICE|IMAGE [--data-dir D] [--backend zymbit|tpm2] [--pcrs LIST] [--slot N] [--key-file EXISTING] [--pbkdf pbkdf2|argon2id] [--pbkdf-iterations N]';
export const DEVICE_LUKS_KEY = 'capsule device luks-key DEVICE|IMAGE [--data-dir D] [--backend zymbit|tpm2]';
export const IMAGE_SIGN = 'capsule image sign MANIFEST.json --key OWNER.key [-o SIGNED.manifest]';
export const IMAGE_SHOW = 'capsule image show [SIGNED.manifest] [--data-dir D]';
export const IMAGE_PIN = 'capsule image pin SIGNED.manifest [--owner HEX] [--data-dir D]';
export const IMAGE_VERIFY = 'capsule image verify ARCHIVE.tar [--manifest M] [--owner HEX] [--data-dir D] [--max-archive-bytes N] [--max-entry-bytes N]';
export const IMAGE_LOAD = 'capsule image load ARCHIVE.tar [--manifest M] [--owner HEX] [--data-dir D] [--engine podman|docker] [--engine-arg ARG]… [--tmp-dir D] [--max-archive-bytes N] [--max-entry-bytes N]';
export const IMAGE_PUBLISH = 'capsule image publish SIGNED.manifest [--timeout SECONDS] [--ipfs helia|kubo:URL] [--data-dir D] [--peer MULTIADDR]…';
export const IMAGE_FETCH = 'capsule image fetch CID -o OUT.tar [--manifest M] [--owner HEX] [--data-dir D] [--max-archive-bytes N] [--timeout SECONDS] [--ipfs helia|kubo:URL] [--peer MULTIADDR]…';
