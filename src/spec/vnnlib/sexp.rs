//! S-expressions: the lexer and the iterative reader (depth-capped, with 1-based line/column
//! positions; comments run from `;` to the end of the line).

use super::{err, Pos, Res, MAX_DEPTH};

pub(super) enum Sexp {
    Atom(String, Pos),
    List(Vec<Sexp>, Pos),
}

impl Sexp {
    pub(super) fn pos(&self) -> Pos {
        match self {
            Sexp::Atom(_, p) | Sexp::List(_, p) => *p,
        }
    }
}

/// `(head args…)`: the operator name and the arguments of a non-empty list.
pub(super) fn split_head<'a>(items: &'a [Sexp], pos: Pos, what: &str) -> Res<(&'a str, Pos, &'a [Sexp])> {
    match items.split_first() {
        None => err(pos, format!("empty list `()` where {what} was expected")),
        Some((Sexp::Atom(h, hp), rest)) => Ok((h.as_str(), *hp, rest)),
        Some((Sexp::List(_, p), _)) => {
            err(*p, format!("expected an operator name at the start of {what}, found a list"))
        }
    }
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl Lexer<'_> {
    pub(super) fn pos(&self) -> Pos {
        Pos { line: self.line, column: self.column }
    }
    fn next(&mut self) -> Option<(char, Pos)> {
        let c = self.chars.next()?;
        let p = self.pos();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some((c, p))
    }
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || c == ';'
}

/// Read all top-level S-expressions (iteratively); also returns the end-of-input position.
pub(super) fn read_sexps(text: &str) -> Res<(Vec<Sexp>, Pos, usize)> {
    let mut lx = Lexer { chars: text.chars().peekable(), line: 1, column: 1 };
    let mut top: Vec<Sexp> = Vec::new();
    let mut stack: Vec<(Vec<Sexp>, Pos)> = Vec::new();
    let mut max_depth = 0;
    fn push(stack: &mut [(Vec<Sexp>, Pos)], top: &mut Vec<Sexp>, e: Sexp) {
        match stack.last_mut() {
            Some((items, _)) => items.push(e),
            None => top.push(e),
        }
    }
    while let Some((c, p)) = lx.next() {
        match c {
            ';' => {
                while let Some(&d) = lx.chars.peek() {
                    if d == '\n' {
                        break;
                    }
                    lx.next();
                }
            }
            '(' => {
                if stack.len() >= MAX_DEPTH {
                    return err(p, format!("parentheses nested deeper than {MAX_DEPTH} levels"));
                }
                stack.push((Vec::new(), p));
                max_depth = max_depth.max(stack.len());
            }
            ')' => match stack.pop() {
                Some((items, open)) => push(&mut stack, &mut top, Sexp::List(items, open)),
                None => return err(p, "unexpected `)` without a matching `(`"),
            },
            '"' | '|' => {
                // SMT-LIB string literal ("" escapes a quote) or quoted symbol |…|.
                let mut tok = String::new();
                if c == '"' {
                    tok.push('"');
                }
                loop {
                    match lx.next() {
                        None => {
                            let what = if c == '"' { "string literal" } else { "quoted symbol `|…|`" };
                            return err(p, format!("unterminated {what}"));
                        }
                        Some((d, _)) if d == c => {
                            if c == '"' && lx.chars.peek() == Some(&'"') {
                                lx.next();
                                tok.push_str("\"\"");
                                continue;
                            }
                            break;
                        }
                        Some((d, _)) => tok.push(d),
                    }
                }
                if c == '"' {
                    tok.push('"');
                }
                push(&mut stack, &mut top, Sexp::Atom(tok, p));
            }
            c if c.is_whitespace() => {}
            c => {
                let mut tok = String::from(c);
                while let Some(&d) = lx.chars.peek() {
                    if is_delimiter(d) {
                        break;
                    }
                    tok.push(d);
                    lx.next();
                }
                push(&mut stack, &mut top, Sexp::Atom(tok, p));
            }
        }
    }
    let eof = lx.pos();
    if let Some((_, open)) = stack.last() {
        let n = stack.len();
        return err(
            eof,
            format!(
                "unexpected end of input: {n} unclosed `(` (the innermost opened at line {}, column {})",
                open.line, open.column
            ),
        );
    }
    Ok((top, eof, max_depth))
}
