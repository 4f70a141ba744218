/**
 * "Did you mean …?" for a mistyped command, subcommand or option: the candidates within a small
 * edit distance (optimal string alignment: insertions, deletions, substitutions and swaps of two
 * neighbours each cost 1, so `sael` is 1 from `seal`), else the ones the word begins (`sign` →
 * `sign-request`). Deliberately not here: the wording of the hint (main.ts, args.ts, subcommands.ts).
 */

/** Edit distance between `a` and `b` (optimal string alignment; case-insensitive). */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // d[i][j]: distance between the first i characters of s and the first j of t.
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...new Array<number>(t.length).fill(0)]);
  for (let j = 1; j <= t.length; j++) d[0]![j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The candidates `word` was probably meant to be, best first (at most 3): those within distance 2
 * (1 for words of up to 3 characters, where 2 would match almost anything; always less than the
 * word's length), else those that start with `word` (at least 2 characters). Empty when nothing is close.
 */
export function suggest(word: string, candidates: Iterable<string>): string[] {
  const all = [...new Set(candidates)].filter((c) => c !== word);
  const limit = word.length <= 3 ? 1 : 2;
  // Something of the word must remain: `-x` is not a typo of `-o`.
  const near = all.map((c) => ({ c, d: editDistance(word, c) })).filter((x) => x.d <= limit && x.d < word.length);
  if (near.length > 0)
    return near
      .sort((x, y) => x.d - y.d)
      .slice(0, 3)
      .map((x) => x.c);
  if (word.length < 2) return [];
  return all.filter((c) => c.toLowerCase().startsWith(word.toLowerCase())).slice(0, 3);
}

/** `did you mean "a"?` / `did you mean "a" or "b"?` for the suggestions, each shown by `show`; '' for none. */
export function didYouMean(suggestions: string[], show: (s: string) => string = (s) => JSON.stringify(s)): string {
  if (suggestions.length === 0) return '';
  const shown = suggestions.map(show);
  const last = shown.pop()!;
  return `did you mean ${shown.length ? `${shown.join(', ')} or ${last}` : last}?`;
}
