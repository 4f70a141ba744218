/**
 * `npm run bench`: every benchmark in turn. BENCH_ONLY=capsule|sandbox|keys|agent|cid|ipfs|auth|stdout|flood|audit|wallet|tpm|drand|guardian-set|logic-explain|logic-test runs one.
 */
const only = process.env.BENCH_ONLY;
if (!only || only === 'capsule') await import('./capsule.ts');
if (!only || only === 'sandbox') await import('./sandbox.ts');
if (!only || only === 'keys') await import('./keys.ts');
if (!only || only === 'agent') await import('./agent.ts');
if (!only || only === 'cid') await import('./cid.ts');
if (!only || only === 'ipfs') await import('./ipfs.ts');
if (!only || only === 'auth') await import('./requesterAuth.ts');
if (!only || only === 'stdout') await import('./decryptStdout.ts');
if (!only || only === 'flood') await import('./flood.ts');
if (!only || only === 'audit') await import('./auditOpen.ts');
if (!only || only === 'wallet') await import('./walletSign.ts');
if (!only || only === 'tpm') await import('./tpm.ts');
if (!only || only === 'drand') await import('./drand.ts');
if (!only || only === 'guardian-set') await import('./guardianSet.ts');
if (!only || only === 'logic-explain') await import('./logicExplain.ts');
if (!only || only === 'logic-test') await import('./logicTest.ts');
