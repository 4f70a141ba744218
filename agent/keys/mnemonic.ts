/**
 * The paper backup: a guardian's 32-byte master entropy as a 24-word BIP39 mnemonic (English list),
 * and back, with the checksum enforced. Uses @scure/bip39 (audited, the noble family) for the word
 * list and checksum; nothing here is hand-rolled.
 *
 * Errors name the word's position, never the word or the phrase: both are secret. Deliberately not
 * here: BIP39 passphrases ("25th word": one more thing to lose on paper) and other word lists.
 */
import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { KeyError } from '../errors.ts';

export const MNEMONIC_WORDS = 24;
const WORDS = new Set(wordlist);

export function toMnemonic(entropy: Uint8Array): string {
  if (!(entropy instanceof Uint8Array) || entropy.length !== 32) {
    throw new TypeError(`entropy: expected 32 bytes, got ${entropy instanceof Uint8Array ? entropy.length : typeof entropy}`);
  }
  return entropyToMnemonic(entropy, wordlist);
}

/** Normalises spacing and case, then checks count, words and checksum. Caller wipes the result. */
export function fromMnemonic(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`mnemonic: expected a string, got ${typeof text}`);
  const words = normaliseMnemonic(text).split(' ').filter(Boolean);
  if (words.length !== MNEMONIC_WORDS) {
    throw new KeyError('ERR_BAD_MNEMONIC', `mnemonic: expected ${MNEMONIC_WORDS} words, got ${words.length}`, {
      hint: 'type the 24 words of the paper backup in order, separated by spaces',
    });
  }
  const unknown = words.findIndex((w) => !WORDS.has(w));
  if (unknown >= 0) {
    throw new KeyError('ERR_BAD_MNEMONIC', `mnemonic: word ${unknown + 1} is not in the BIP39 English word list`, {
      hint: 'check the spelling of that word on the paper backup (the first four letters identify it)',
    });
  }
  try {
    return mnemonicToEntropy(words.join(' '), wordlist);
  } catch (cause) {
    throw new KeyError('ERR_BAD_MNEMONIC', 'mnemonic: checksum does not match (a word is wrong or two are swapped)', {
      cause,
      hint: 'compare every word and its position with the paper backup',
    });
  }
}

export function normaliseMnemonic(text: string): string {
  return text.normalize('NFKD').toLowerCase().trim().split(/\s+/).join(' ');
}
