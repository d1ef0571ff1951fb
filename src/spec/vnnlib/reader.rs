//! The VNN-LIB reader: declarations, linear terms, formulas in disjunctive normal form, input
//! bounds (see the module documentation of [`super`] for the accepted subset).

use super::binary32::{f32_nearest, f32_text};
use super::number::{looks_numeric, parse_number};
use super::sexp::{read_sexps, split_head, Sexp};
use super::{err, Num, Pos, RealAtom, Res, Var, VnnLib, VnnLibError, MAX_DISJUNCTS, MAX_DNF_ATOMS};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone)]
struct Lin {
    terms: Vec<(Var, BigRational)>,
    index: HashMap<Var, usize>,
    constant: BigRational,
    /// The literal text when this term is exactly one number (possibly negated).
    literal: Option<String>,
}

impl Lin {
    fn constant(value: BigRational, literal: Option<String>) -> Lin {
        Lin { terms: Vec::new(), index: HashMap::new(), constant: value, literal }
    }
    fn var(v: Var) -> Lin {
        Lin {
            terms: vec![(v, BigRational::one())],
            index: HashMap::from([(v, 0)]),
            constant: BigRational::zero(),
            literal: None,
        }
    }
    fn is_constant(&self) -> bool {
        self.terms.iter().all(|(_, c)| c.is_zero())
    }
    /// Exactly one variable with coefficient 1 and nothing else.
    fn is_plain_var(&self) -> bool {
        self.terms.len() == 1 && self.terms[0].1.is_one() && self.constant.is_zero() && self.literal.is_none()
    }
    /// `self += o` (or `-= o`), avoiding rational arithmetic where it is not needed.
    fn add(&mut self, o: &Lin, negate: bool) {
        let signed = |c: &BigRational| if negate { -c } else { c.clone() };
        for (v, c) in &o.terms {
            match self.index.get(v) {
                Some(&i) => {
                    if negate {
                        self.terms[i].1 -= c;
                    } else {
                        self.terms[i].1 += c;
                    }
                }
                None => {
                    self.index.insert(*v, self.terms.len());
                    self.terms.push((*v, signed(c)));
                }
            }
        }
        match (o.constant.is_zero(), self.constant.is_zero(), negate) {
            (true, _, _) => {}
            (false, true, _) => self.constant = signed(&o.constant),
            (false, false, true) => self.constant -= &o.constant,
            (false, false, false) => self.constant += &o.constant,
        }
        self.literal = None;
    }
    fn scale(&mut self, k: &BigRational) {
        for t in &mut self.terms {
            t.1 *= k;
        }
        self.constant *= k;
        self.literal = None;
    }
    fn negate(mut self) -> Lin {
        let lit = self.literal.take().map(|t| match t.strip_prefix('-') {
            Some(r) => r.to_string(),
            None => format!("-{}", t.strip_prefix('+').unwrap_or(&t)),
        });
        for t in &mut self.terms {
            t.1 = -std::mem::take(&mut t.1);
        }
        self.constant = -std::mem::take(&mut self.constant);
        self.literal = lit;
        self
    }
}

/// An atom with the position of its comparison, and the literal bound text when it has the shape
/// `var op literal` / `literal op var`.
#[derive(Clone)]
struct PAtom {
    atom: RealAtom,
    pos: Pos,
    literal: Option<String>,
}

/// `lhs ≤ rhs` (or `<`), as `Σ c·v ≤ k`.
fn make_atom(lhs: &Lin, rhs: &Lin, strict: bool, pos: Pos) -> PAtom {
    let literal = if lhs.is_plain_var() {
        rhs.literal.clone()
    } else if rhs.is_plain_var() {
        lhs.literal.clone()
    } else {
        None
    };
    let mut d = lhs.clone();
    d.add(rhs, true);
    let terms = d.terms.into_iter().filter(|(_, c)| !c.is_zero()).collect();
    PAtom { atom: RealAtom { terms, rhs: -d.constant, strict }, pos, literal }
}

fn dnf_size<T>(d: &[Vec<T>]) -> usize {
    d.iter().map(Vec::len).sum()
}

fn too_big(pos: Pos) -> VnnLibError {
    VnnLibError {
        line: pos.line,
        column: pos.column,
        message: format!(
            "the disjunctive normal form grows beyond {MAX_DISJUNCTS} disjuncts or {MAX_DNF_ATOMS} atoms \
             (too many nested `or`s under `and`)"
        ),
    }
}

/// The conjunction of two DNFs (distributing), within the size caps.
fn product<T: Clone>(a: Vec<Vec<T>>, b: Vec<Vec<T>>, pos: Pos) -> Res<Vec<Vec<T>>> {
    let (la, lb) = (a.len() as u128, b.len() as u128);
    let atoms = dnf_size(&a) as u128 * lb + dnf_size(&b) as u128 * la;
    if la * lb > MAX_DISJUNCTS as u128 || atoms > MAX_DNF_ATOMS as u128 {
        return Err(too_big(pos));
    }
    if b.len() == 1 {
        let extra = &b[0];
        return Ok(a
            .into_iter()
            .map(|mut c| {
                c.extend(extra.iter().cloned());
                c
            })
            .collect());
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in &a {
        for y in &b {
            let mut c = x.clone();
            c.extend(y.iter().cloned());
            out.push(c);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Declarations

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Unknown,
    Single,
    Multi(usize),
}

struct Family {
    letter: char,
    style: Style,
    count: usize,
    /// Single-index style: the declared indices with their positions.
    single: Vec<(usize, Pos)>,
}

impl Family {
    fn new(letter: char) -> Family {
        Family { letter, style: Style::Unknown, count: 0, single: Vec::new() }
    }

    /// Number of variables, checking that single-index declarations cover `0..n`.
    fn size(&mut self) -> Res<usize> {
        if self.style != Style::Single {
            return Ok(self.count);
        }
        self.single.sort_unstable_by_key(|(i, _)| *i);
        let Some(&(max, max_pos)) = self.single.last() else { return Ok(0) };
        if let Some(missing) = self.single.iter().enumerate().find(|(k, (i, _))| k != i).map(|(k, _)| k) {
            let l = self.letter;
            return err(
                max_pos,
                format!(
                    "{l}_{max} is declared but {l}_{missing} is not: the variables must be {l}_0 … {l}_{max} \
                     ({} of {} declared)",
                    self.single.len(),
                    max + 1
                ),
            );
        }
        Ok(max + 1)
    }
}

#[derive(Clone)]
struct Bound {
    value: BigRational,
    strict: bool,
    text: Option<String>,
}

/// Per-input `(lower, upper)` bounds.
type BoxMap = BTreeMap<usize, (Option<Bound>, Option<Bound>)>;

fn tighten(cur: &mut Option<Bound>, new: Bound, upper: bool) {
    let better = match cur {
        None => true,
        Some(c) => match new.value.cmp(&c.value) {
            Ordering::Less => upper,
            Ordering::Greater => !upper,
            Ordering::Equal => new.strict && !c.strict,
        },
    };
    if better {
        *cur = Some(new);
    }
}

fn add_bound(bx: &mut BoxMap, i: usize, b: Bound, upper: bool) {
    let e = bx.entry(i).or_insert((None, None));
    tighten(if upper { &mut e.1 } else { &mut e.0 }, b, upper);
}

fn same_box(a: &BoxMap, b: &BoxMap) -> bool {
    let same = |x: &Option<Bound>, y: &Option<Bound>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => x.value == y.value && x.strict == y.strict,
        _ => false,
    };
    a.len() == b.len() && a.iter().zip(b).all(|((i, (l, u)), (j, (m, v)))| i == j && same(l, m) && same(u, v))
}

struct Reader {
    vars: HashMap<String, Var>,
    x: Family,
    y: Family,
    bounds: BoxMap,
    output: Vec<Vec<RealAtom>>,
}

impl Reader {
    fn declare(&mut self, name: &Sexp, sort: &Sexp) -> Res<()> {
        let (name, npos) = match name {
            Sexp::Atom(t, p) => (t.as_str(), *p),
            Sexp::List(_, p) => return err(*p, "expected a variable name, found a list"),
        };
        match sort {
            Sexp::Atom(s, _) if s == "Real" => {}
            Sexp::Atom(s, p) => return err(*p, format!("unknown sort `{s}`: VNN-LIB variables are declared `Real`")),
            Sexp::List(_, p) => return err(*p, "unknown sort: VNN-LIB variables are declared `Real`"),
        }
        if self.vars.contains_key(name) {
            return err(npos, format!("`{name}` is already declared"));
        }
        let (family, rest) = if let Some(r) = name.strip_prefix("X_") {
            (&mut self.x, r)
        } else if let Some(r) = name.strip_prefix("Y_") {
            (&mut self.y, r)
        } else {
            return err(
                npos,
                format!("unsupported variable name `{name}`: inputs are X_0, X_1, … (or X_0_0_0, …) and outputs Y_0, Y_1, …"),
            );
        };
        let mut idx = Vec::new();
        for part in rest.split('_') {
            let ok =
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && (part == "0" || !part.starts_with('0'));
            if !ok {
                return err(
                    npos,
                    format!("variable `{name}`: expected decimal indices without leading zeros after `_`"),
                );
            }
            match part.parse::<usize>() {
                Ok(i) => idx.push(i),
                Err(_) => return err(npos, format!("variable `{name}`: index too large")),
            }
        }
        let l = family.letter;
        let index = if idx.len() == 1 {
            if let Style::Multi(_) = family.style {
                return err(npos, format!("`{name}` mixes single-index and multi-index names for the {l} variables"));
            }
            family.style = Style::Single;
            family.single.push((idx[0], npos));
            family.count += 1;
            idx[0]
        } else {
            match family.style {
                Style::Single => {
                    return err(
                        npos,
                        format!("`{name}` mixes single-index and multi-index names for the {l} variables"),
                    )
                }
                Style::Multi(a) if a != idx.len() => {
                    return err(npos, format!("`{name}` has {} indices; earlier {l} variables have {a}", idx.len()))
                }
                _ => {}
            }
            family.style = Style::Multi(idx.len());
            family.count += 1;
            family.count - 1
        };
        let var = if l == 'X' { Var::X(index) } else { Var::Y(index) };
        self.vars.insert(name.to_string(), var);
        Ok(())
    }

    fn term(&self, e: &Sexp) -> Res<Lin> {
        match e {
            Sexp::Atom(t, p) => {
                if looks_numeric(t) {
                    return match parse_number(t) {
                        Ok(v) => Ok(Lin::constant(v, Some(t.clone()))),
                        Err(m) => err(*p, m),
                    };
                }
                if let Some(&v) = self.vars.get(t) {
                    return Ok(Lin::var(v));
                }
                if t.starts_with("X_") || t.starts_with("Y_") {
                    err(*p, format!("undeclared variable `{t}`"))
                } else {
                    err(*p, format!("unknown symbol `{t}` (expected a number or a declared variable)"))
                }
            }
            Sexp::List(items, p) => {
                let (head, hp, args) = split_head(items, *p, "a term")?;
                match head {
                    "+" | "-" | "*" | "/" if args.is_empty() => {
                        err(*p, format!("`{head}` needs at least one argument"))
                    }
                    "+" => {
                        let mut acc = self.term(&args[0])?;
                        for a in &args[1..] {
                            acc.add(&self.term(a)?, false);
                        }
                        Ok(acc)
                    }
                    "-" => {
                        let first = self.term(&args[0])?;
                        if args.len() == 1 {
                            return Ok(first.negate());
                        }
                        let mut acc = first;
                        for a in &args[1..] {
                            acc.add(&self.term(a)?, true);
                        }
                        Ok(acc)
                    }
                    "*" => {
                        if args.len() == 1 {
                            return self.term(&args[0]);
                        }
                        let mut k = BigRational::one();
                        let mut var: Option<Lin> = None;
                        for a in args {
                            let t = self.term(a)?;
                            if t.is_constant() {
                                k *= &t.constant;
                            } else if var.is_some() {
                                return err(
                                    *p,
                                    "non-linear term: `*` multiplies two expressions with variables \
                                     (only products with constants are supported)",
                                );
                            } else {
                                var = Some(t);
                            }
                        }
                        Ok(match var {
                            Some(mut t) => {
                                t.scale(&k);
                                t
                            }
                            None => Lin::constant(k, None),
                        })
                    }
                    "/" => {
                        let mut acc = self.term(&args[0])?;
                        for a in &args[1..] {
                            let d = self.term(a)?;
                            if !d.is_constant() {
                                return err(a.pos(), "non-linear term: division by an expression with variables");
                            }
                            if d.constant.is_zero() {
                                return err(a.pos(), "division by zero");
                            }
                            acc.scale(&d.constant.recip());
                        }
                        Ok(acc)
                    }
                    _ => err(hp, format!("unsupported function `{head}` in a linear term (expected +, -, * or /)")),
                }
            }
        }
    }

    fn formula(&self, e: &Sexp) -> Res<Vec<Vec<PAtom>>> {
        match e {
            Sexp::Atom(t, p) => match t.as_str() {
                "true" => Ok(vec![vec![]]),
                "false" => Ok(vec![]),
                _ => err(*p, format!("expected a formula (and, or, <=, >=, <, >, =), found `{t}`")),
            },
            Sexp::List(items, p) => {
                let (head, hp, args) = split_head(items, *p, "a formula")?;
                match head {
                    "and" => {
                        let children = args.iter().map(|a| self.formula(a)).collect::<Res<Vec<_>>>()?;
                        if children.iter().any(Vec::is_empty) {
                            return Ok(Vec::new()); // a false conjunct
                        }
                        // Check the size of the whole product before building any of it.
                        let (mut n, mut atoms) = (1u128, 0u128);
                        for c in &children {
                            let len = c.len() as u128;
                            atoms = atoms * len + dnf_size(c) as u128 * n;
                            n *= len;
                            if n > MAX_DISJUNCTS as u128 || atoms > MAX_DNF_ATOMS as u128 {
                                return Err(too_big(*p));
                            }
                        }
                        let mut acc = vec![vec![]];
                        for c in children {
                            acc = product(acc, c, *p)?;
                        }
                        Ok(acc)
                    }
                    "or" => {
                        let mut acc = Vec::new();
                        for a in args {
                            let d = self.formula(a)?;
                            if acc.len() + d.len() > MAX_DISJUNCTS || dnf_size(&acc) + dnf_size(&d) > MAX_DNF_ATOMS {
                                return Err(too_big(*p));
                            }
                            acc.extend(d);
                        }
                        Ok(acc)
                    }
                    "<=" | "<" | ">=" | ">" | "=" => {
                        if args.len() < 2 {
                            return err(*p, format!("`{head}` needs at least two arguments"));
                        }
                        let terms = args.iter().map(|a| self.term(a)).collect::<Res<Vec<_>>>()?;
                        let mut conj = Vec::new();
                        for w in terms.windows(2) {
                            let (a, b) = (&w[0], &w[1]);
                            match head {
                                "<=" => conj.push(make_atom(a, b, false, *p)),
                                "<" => conj.push(make_atom(a, b, true, *p)),
                                ">=" => conj.push(make_atom(b, a, false, *p)),
                                ">" => conj.push(make_atom(b, a, true, *p)),
                                _ => {
                                    conj.push(make_atom(a, b, false, *p));
                                    conj.push(make_atom(b, a, false, *p));
                                }
                            }
                        }
                        Ok(vec![conj])
                    }
                    "not" | "=>" | "xor" | "ite" | "distinct" => err(
                        hp,
                        format!("unsupported: `{head}` (VNN-LIB assertions are built from and, or and comparisons)"),
                    ),
                    _ => err(hp, format!("unknown formula operator `{head}` (expected and, or, <=, >=, <, >, =)")),
                }
            }
        }
    }

    fn assert(&mut self, f: &Sexp, pos: Pos) -> Res<()> {
        let dnf = self.formula(f)?;
        let mut boxes: Vec<(BoxMap, Option<Pos>)> = Vec::with_capacity(dnf.len());
        let mut ys = Vec::with_capacity(dnf.len());
        for conj in dnf {
            let mut bx = BoxMap::new();
            let mut first_x = None;
            let mut y = Vec::new();
            for pa in conj {
                let nx = pa.atom.terms.iter().filter(|(v, _)| matches!(v, Var::X(_))).count();
                let ny = pa.atom.terms.len() - nx;
                if nx > 0 && ny > 0 {
                    return err(
                        pa.pos,
                        "unsupported: this constraint mixes inputs (X_…) and outputs (Y_…); only bounds on single \
                         inputs and constraints over outputs are supported",
                    );
                }
                if nx > 1 {
                    return err(
                        pa.pos,
                        "unsupported: a linear constraint over several inputs; only bounds on single inputs \
                         (X_i <= c, X_i >= c) are supported",
                    );
                }
                if nx == 0 {
                    y.push(pa.atom);
                    continue;
                }
                first_x.get_or_insert(pa.pos);
                let (v, c) = &pa.atom.terms[0];
                let Var::X(i) = *v else { continue };
                let value = if c.is_one() {
                    pa.atom.rhs.clone()
                } else if (-c).is_one() {
                    -&pa.atom.rhs
                } else {
                    &pa.atom.rhs / c
                };
                let b = Bound { value, strict: pa.atom.strict, text: pa.literal };
                add_bound(&mut bx, i, b, c.is_positive());
            }
            boxes.push((bx, first_x));
            ys.push(y);
        }
        if let Some(((first, first_pos), rest)) = boxes.split_first() {
            if let Some((_, p)) = rest.iter().find(|(b, _)| !same_box(first, b)) {
                return err(
                    p.or(*first_pos).unwrap_or(pos),
                    "unsupported: the disjuncts of this `or` constrain the inputs differently; quiver handles one \
                     input box per property (split it into one file per box)",
                );
            }
            for (&i, (l, u)) in first {
                if let Some(l) = l {
                    add_bound(&mut self.bounds, i, l.clone(), false);
                }
                if let Some(u) = u {
                    add_bound(&mut self.bounds, i, u.clone(), true);
                }
            }
        }
        self.output = product(std::mem::take(&mut self.output), ys, pos)?;
        Ok(())
    }

    fn command(&mut self, e: &Sexp) -> Res<()> {
        let Sexp::List(items, p) = e else {
            let Sexp::Atom(t, p) = e else { unreachable!() };
            return err(*p, format!("expected a command such as `(declare-const …)` or `(assert …)`, found `{t}`"));
        };
        let (head, hp, args) = split_head(items, *p, "a command")?;
        match head {
            "declare-const" => match args {
                [name, sort] => self.declare(name, sort),
                _ => err(*p, "expected `(declare-const NAME Real)`"),
            },
            "declare-fun" => match args {
                [name, Sexp::List(params, _), sort] if params.is_empty() => self.declare(name, sort),
                _ => err(*p, "expected `(declare-fun NAME () Real)` (functions with parameters are not supported)"),
            },
            "assert" => match args {
                [f] => self.assert(f, *p),
                _ => err(*p, "expected `(assert FORMULA)` with exactly one formula"),
            },
            "set-logic" | "set-info" | "set-option" | "check-sat" | "get-model" | "get-info" | "exit" => Ok(()),
            _ => err(hp, format!("unsupported command `{head}` (expected declare-const or assert)")),
        }
    }
}

/// Nesting depth up to which [`parse`] interprets on the caller's stack.
const INLINE_DEPTH: usize = 64;
/// Stack for interpreting deeper input: [`MAX_DEPTH`](super::MAX_DEPTH) levels take a few MiB in unoptimized builds.
const DEEP_STACK: usize = 64 << 20;

/// Parse a VNN-LIB property. See the module documentation for the accepted subset.
///
/// The interpretation recurses once per nesting level. Input nested deeper than 64 levels (no
/// real property is) is interpreted on a scoped helper thread with a 64 MiB stack, so that
/// [`MAX_DEPTH`](super::MAX_DEPTH) levels are safe whatever the caller's stack.
pub fn parse(text: &str) -> Result<VnnLib, VnnLibError> {
    let (sexps, eof, depth) = read_sexps(text)?;
    if depth <= INLINE_DEPTH {
        return interpret(&sexps, eof);
    }
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("vnnlib-parse".into())
            .stack_size(DEEP_STACK)
            .spawn_scoped(s, || interpret(&sexps, eof));
        match spawned {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => interpret(&sexps, eof),
        }
    })
}

fn interpret(sexps: &[Sexp], eof: Pos) -> Res<VnnLib> {
    let mut r = Reader {
        vars: HashMap::new(),
        x: Family::new('X'),
        y: Family::new('Y'),
        bounds: BoxMap::new(),
        output: vec![vec![]],
    };
    for e in sexps {
        r.command(e)?;
    }
    let n_inputs = r.x.size()?;
    let n_outputs = r.y.size()?;
    if n_inputs == 0 {
        return err(eof, "no input variables: declare them as `(declare-const X_0 Real)`, …");
    }
    if n_outputs == 0 {
        return err(eof, "no output variables: declare them as `(declare-const Y_0 Real)`, …");
    }
    let num = |b: &Bound| Num {
        text: b.text.clone().unwrap_or_else(|| f32_text(f32_nearest(&b.value))),
        value: b.value.clone(),
    };
    let mut input_bounds = vec![(None, None); n_inputs];
    let mut input_strict = vec![(false, false); n_inputs];
    for (i, (l, u)) in &r.bounds {
        if let (Some(slot), Some(st)) = (input_bounds.get_mut(*i), input_strict.get_mut(*i)) {
            *slot = (l.as_ref().map(num), u.as_ref().map(num));
            *st = (l.as_ref().is_some_and(|b| b.strict), u.as_ref().is_some_and(|b| b.strict));
        }
    }
    Ok(VnnLib { n_inputs, n_outputs, input_bounds, input_strict, output_dnf: r.output })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64, d: i64) -> BigRational {
        BigRational::new(n.into(), d.into())
    }

    #[test]
    fn small_property() {
        let v = parse(
            "; comment\n(declare-const X_0 Real)(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n\
             (assert (and (<= X_0 0.5) (>= X_0 (- 0.5)) (< (* 2 X_1) 1) (>= X_1 -1e-3)))\n\
             (assert (or (>= Y_0 Y_1) (and (< Y_1 (+ Y_0 0.25)) (<= Y_0 3))))",
        )
        .unwrap();
        assert_eq!((v.n_inputs, v.n_outputs), (2, 2));
        let (l0, u0) = &v.input_bounds[0];
        assert_eq!(l0.as_ref().unwrap().text, "-0.5");
        assert_eq!(u0.as_ref().unwrap().text, "0.5");
        let (l1, u1) = &v.input_bounds[1];
        assert_eq!(l1.as_ref().unwrap().text, "-1e-3");
        assert_eq!(u1.as_ref().unwrap().value, q(1, 2));
        assert_eq!(u1.as_ref().unwrap().text, "0.5"); // synthesized
        assert_eq!(v.input_strict, vec![(false, false), (false, true)]);
        assert_eq!(v.output_dnf.len(), 2);
        assert_eq!(v.output_dnf[0][0].terms, vec![(Var::Y(1), q(1, 1)), (Var::Y(0), q(-1, 1))]);
        assert_eq!(v.output_dnf[1][0].to_string(), "Y_1 - Y_0 < 1/4");
        assert_eq!(v.output_dnf[1][1].to_string(), "Y_0 <= 3");
    }

    #[test]
    fn tightest_bound_and_strictness() {
        let v = parse(
            "(declare-const X_0 Real)(declare-const Y_0 Real)\
             (assert (<= X_0 3))(assert (< X_0 3))(assert (<= X_0 4))(assert (>= X_0 1))(assert (> X_0 0))",
        )
        .unwrap();
        assert_eq!(v.input_bounds[0].1.as_ref().unwrap().value, q(3, 1));
        assert_eq!(v.input_strict[0], (false, true));
        assert_eq!(v.input_bounds[0].0.as_ref().unwrap().value, q(1, 1));
        assert_eq!(v.output_dnf, vec![vec![]]);
    }

    #[test]
    fn multi_index_names() {
        let v = parse(
            "(declare-const X_0_0_1 Real)(declare-const X_0_0_0 Real)(declare-const Y_0 Real)(assert (<= X_0_0_0 1))",
        )
        .unwrap();
        assert_eq!(v.n_inputs, 2);
        assert!(v.input_bounds[0].1.is_none());
        assert_eq!(v.input_bounds[1].1.as_ref().unwrap().text, "1");
    }
}
