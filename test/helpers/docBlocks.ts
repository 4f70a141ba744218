/**
 * Fenced code blocks of a Markdown document, for test/docs-examples.test.ts: each block's
 * language, body, line, the heading it sits under, and the marker comment on the line just before
 * its fence (`<!-- not run: reason -->` or `<!-- fragment: reason -->`), which tells the test how
 * to treat a block it cannot run as a whole.
 *
 * Deliberately not here: deciding what to do with a block (the test does), and Markdown beyond what
 * the project's documents use: fences are ``` at the start of a line (no ~~~, no indented fences;
 * an indented or tilde fence is refused rather than read wrongly), headings are ATX (`#`).
 */

/** What the comment on the line before a fence says about the block. */
export interface DocMarker {
  kind: 'not run' | 'fragment';
  reason: string;
}

/** One fenced block of a document. */
export interface DocBlock {
  /** The document, as given (a path relative to the repository). */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's first word, lower case ('' for a bare fence). */
  lang: string;
  /** The lines between the fences, each ending in a newline. */
  body: string;
  /** The text of the nearest heading above the block, without its #s ('' before any heading). */
  heading: string;
  marker?: DocMarker;
}

const MARKER = /^<!--\s*(not run|fragment)\s*:\s*(.*?)\s*-->\s*$/;

/**
 * The fenced blocks of `markdown`, in order.
 * @throws {Error} on a fence that is never closed, an indented or `~~~` fence, or a marker comment
 *   without a reason (`<!-- not run -->`): the message names the file and line.
 */
export function docBlocks(markdown: string, file: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s+```|^\s*~~~/.test(line))
      throw new Error(`${file}:${i + 1}: an indented or ~~~ fence, which docBlocks does not read: use \`\`\` at the line's start`);
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      heading = h[1]!;
      continue;
    }
    const open = /^```\s*(\S*)/.exec(line);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${file}:${i + 1}: a code fence that is never closed`);
    const before = i > 0 ? lines[i - 1]!.trim() : '';
    let marker: DocMarker | undefined;
    if (/^<!--\s*(not run|fragment)\b/.test(before)) {
      const m = MARKER.exec(before);
      if (!m || !m[2]) throw new Error(`${file}:${i}: a marker needs a reason, as <!-- not run: why --> or <!-- fragment: why -->; found ${before}`);
      marker = { kind: m[1] as DocMarker['kind'], reason: m[2] };
    }
    const body = lines
      .slice(i + 1, end)
      .map((l) => `${l}\n`)
      .join('');
    blocks.push({ file, line: i + 1, lang: open[1]!.toLowerCase(), body, heading, ...(marker ? { marker } : {}) });
    i = end;
  }
  return blocks;
}

/** One shell command of a block: its 1-based line in the block's body, and the comment lines after it. */
export interface ShellStep {
  command: string;
  line: number;
  /** The comment lines that follow the command up to the next one, without their `#` (what it prints, or fails with). */
  notes: string[];
}

/**
 * `body`'s shell commands in order, lines joined at a trailing backslash, each with the comment
 * lines that follow it (comment lines before the first command are dropped: they are not about one).
 */
export function shellSteps(body: string): ShellStep[] {
  const lines = body.split('\n');
  const steps: ShellStep[] = [];
  for (let i = 0; i < lines.length; i++) {
    const at = i;
    let text = lines[i]!;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]!.trim()}`;
    const t = text.trim();
    if (!t) continue;
    if (t.startsWith('#')) steps.at(-1)?.notes.push(t.replace(/^#\s*/, ''));
    else steps.push({ command: t, line: at + 1, notes: [] });
  }
  return steps;
}

/** `block`'s shell commands: lines joined at a trailing backslash, without blank lines and comment lines. */
export function shellCommands(body: string): string[] {
  return body
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}
