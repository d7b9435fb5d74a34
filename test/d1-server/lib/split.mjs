// split.mjs — splits one SQL string into statements the way SQLite itself decides where a
// statement ends (a port of the state machine in sqlite3_complete(), src/complete.c).
// Must never execute or rewrite SQL: it only cuts the text at the top-level semicolons.
// Called by server.mjs for every `sql` of /query and /raw and, block by block through
// splitPrefix(), for import files (lib/imports.mjs); unit-tested in test/split.test.mjs.

// Token classes of sqlite3_complete().
const tkSEMI = 0, tkWS = 1, tkOTHER = 2, tkEXPLAIN = 3, tkCREATE = 4, tkTEMP = 5,
  tkTRIGGER = 6, tkEND = 7;

// States: 0 INVALID, 1 START, 2 NORMAL, 3 EXPLAIN, 4 CREATE, 5 TRIGGER, 6 SEMI, 7 END.
// A statement is complete when a semicolon takes the machine to START. Inside
// CREATE TRIGGER … BEGIN … END only the sequence `; END ;` (whitespace and comments allowed
// between) ends the statement, so `CASE … END` and the body's semicolons do not split it.
const TRANS = [
  /* INVALID */ [1, 0, 2, 3, 4, 2, 2, 2],
  /* START   */ [1, 1, 2, 3, 4, 2, 2, 2],
  /* NORMAL  */ [1, 2, 2, 2, 2, 2, 2, 2],
  /* EXPLAIN */ [1, 3, 3, 2, 4, 2, 2, 2],
  /* CREATE  */ [1, 4, 2, 2, 2, 4, 5, 2],
  /* TRIGGER */ [6, 5, 5, 5, 5, 5, 5, 5],
  /* SEMI    */ [6, 6, 5, 5, 5, 5, 5, 7],
  /* END     */ [1, 7, 5, 5, 5, 5, 5, 5],
];
const START = 1;

const KEYWORDS = new Map([
  ["explain", tkEXPLAIN], ["create", tkCREATE], ["temp", tkTEMP],
  ["temporary", tkTEMP], ["trigger", tkTRIGGER], ["end", tkEND],
]);

function isIdChar(code) {
  // SQLite's IdChar(): letters, digits, '_', '$' and every byte >= 0x80.
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) || code === 0x5f || code === 0x24 || code >= 0x80;
}

/**
 * Split `sql` into statements. Returns an array of strings, each one statement without its
 * terminating semicolon, trimmed of surrounding whitespace. Statements that consist only of
 * whitespace and comments are dropped. A trailing statement without a semicolon is kept
 * (even if it is incomplete, e.g. an unterminated trigger: SQLite then reports
 * "incomplete input"). CR and LF are both plain whitespace, so CRLF text splits like LF text.
 */
export function splitStatements(sql) {
  const { statements, rest } = splitPrefix(sql);
  if (hasContent(rest)) statements.push(rest.trim());
  return statements;
}

/**
 * The complete statements at the start of `sql` and the text after the last one. A statement
 * is complete when its terminating semicolon is seen, so the rest never contains one: it is
 * whitespace/comments, or the beginning of a statement whose end is not in `sql` yet (a file
 * read in blocks appends the next block to `rest` and scans again). Same rules as
 * splitStatements; empty statements are dropped.
 * Returns {statements: string[], rest: string}.
 */
export function splitPrefix(sql) {
  const out = [];
  const n = sql.length;
  let state = START;
  let start = 0;          // index where the current statement begins
  let content = false;    // current statement has a token other than whitespace/comments
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    let token;
    if (c === 0x3b) { // ';'
      token = tkSEMI;
      i += 1;
    } else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) {
      token = tkWS;
      i += 1;
    } else if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) { // '/*' comment
      const close = sql.indexOf("*/", i + 2);
      i = close < 0 ? n : close + 2;
      token = tkWS;
    } else if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) { // '--' comment
      const nl = sql.indexOf("\n", i + 2);
      i = nl < 0 ? n : nl + 1;
      token = tkWS;
    } else if (c === 0x5b) { // '[' identifier ']'
      const close = sql.indexOf("]", i + 1);
      i = close < 0 ? n : close + 1;
      token = tkOTHER;
    } else if (c === 0x27 || c === 0x22 || c === 0x60) { // '…', "…", `…`
      // A doubled quote ('it''s') ends one string and starts the next: same result.
      const close = sql.indexOf(sql[i], i + 1);
      i = close < 0 ? n : close + 1;
      token = tkOTHER;
    } else if (isIdChar(c)) {
      let j = i + 1;
      while (j < n && isIdChar(sql.charCodeAt(j))) j += 1;
      const word = sql.slice(i, j);
      token = word.length <= 9 ? (KEYWORDS.get(word.toLowerCase()) ?? tkOTHER) : tkOTHER;
      i = j;
    } else {
      token = tkOTHER;
      i += 1;
    }
    if (token === tkSEMI) {
      state = TRANS[state][token];
      if (state === START) {
        if (content) out.push(sql.slice(start, i - 1).trim());
        content = false;
        start = i;
      }
      continue;
    }
    if (token !== tkWS) content = true;
    state = TRANS[state][token];
  }
  return { statements: out, rest: sql.slice(start) };
}

/** True when `text` (which holds no complete statement) has a token besides whitespace/comments. */
function hasContent(text) {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) {
      i += 1;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      const close = text.indexOf("*/", i + 2);
      i = close < 0 ? n : close + 2;
    } else if (c === 0x2d && text.charCodeAt(i + 1) === 0x2d) {
      const nl = text.indexOf("\n", i + 2);
      i = nl < 0 ? n : nl + 1;
    } else {
      return true;
    }
  }
  return false;
}
