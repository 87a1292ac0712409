//! Property test: the cell search of `pol_verifier::cells` computes the
//! first-match partition of a box, checked exhaustively on a tiny domain.
//!
//! Every dimension is cut into a few classes (`classes`): single values,
//! and on every other dimension a last class running up to `u128::MAX` (so
//! the "one past the maximum" edge of the split is exercised). Random boxes
//! are unions of classes per dimension; the points checked are both ends of
//! every class. For each random target box and ordered list of tagged
//! boxes, the leaves of `walk` must be inside the target, cover each point
//! of the target exactly once, with the rule of the first list box that
//! contains the point (`None` when none does), and cover no other point.
//! `walk_pruned` may only leave out points decided by uninteresting rules.
//!
//! `POL_PROP_CASES=N` changes the number of cases (default 200).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pol_verifier::boxes::{is_subset, PBox, NDIM, R};
use pol_verifier::cells::{walk, walk_pruned, Tagged};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::Cell;
use std::ops::ControlFlow;

const BUDGET: usize = 10_000_000;

/// The classes of dimension `k`, in value order, adjacent: values `0..n`,
/// the last one widened to `u128::MAX` on odd dimensions.
fn classes(k: usize) -> Vec<R> {
    let n: u128 = if k < 4 { 2 } else { 3 };
    let wide = k % 2 == 1;
    (0..n)
        .map(|v| (v, if wide && v == n - 1 { u128::MAX } else { v }))
        .collect()
}

/// The values of dimension `k` that are checked: both ends of each class.
fn values(k: usize) -> Vec<u128> {
    let mut out = Vec::new();
    for (lo, hi) in classes(k) {
        out.push(lo);
        if hi != lo {
            out.push(hi);
        }
    }
    out
}

/// The union of the classes of dimension `k` selected by `mask`, as a
/// sorted list of disjoint, non-adjacent ranges.
fn ranges_of_mask(k: usize, mask: u32) -> Vec<R> {
    let mut out: Vec<R> = Vec::new();
    for (i, (lo, hi)) in classes(k).into_iter().enumerate() {
        if mask >> i & 1 == 0 {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(lo) => last.1 = hi,
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// One dimension of a random box: often the whole domain, otherwise a
/// random non-empty union of classes.
fn dim_strategy(k: usize) -> BoxedStrategy<Vec<R>> {
    let n = classes(k).len() as u32;
    let full = (1u32 << n) - 1;
    prop_oneof![
        2 => Just(full),
        3 => 1u32..=full,
    ]
    .prop_map(move |m| ranges_of_mask(k, m))
    .boxed()
}

type Dims = Vec<Vec<R>>;

fn box_strategy() -> Vec<BoxedStrategy<Vec<R>>> {
    (0..NDIM).map(dim_strategy).collect()
}

#[derive(Debug, Clone)]
struct Case {
    target: Dims,
    /// List boxes with "same rule as the previous box" flags.
    list: Vec<(Dims, bool)>,
    /// Bit `r` set: rule `r` is interesting (for `walk_pruned`).
    interesting: u16,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        box_strategy(),
        proptest::collection::vec((box_strategy(), any::<bool>()), 1..12),
        any::<u16>(),
    )
        .prop_map(|(target, list, interesting)| Case {
            target,
            list,
            interesting,
        })
}

fn pbox(d: &Dims) -> PBox {
    let dims: [&[R]; NDIM] = std::array::from_fn(|k| d[k].as_slice());
    PBox::new(false, dims)
}

fn in_ranges(rs: &[R], v: u128) -> bool {
    rs.iter().any(|&(lo, hi)| lo <= v && v <= hi)
}

fn contains(b: &PBox, p: &[u128; NDIM]) -> bool {
    (0..NDIM).all(|k| in_ranges(b.dim(k), p[k]))
}

/// The checked points of the domain, with mixed-radix indices.
struct Domain {
    vals: Vec<Vec<u128>>,
    points: Vec<[u128; NDIM]>,
}

impl Domain {
    fn new() -> Domain {
        let vals: Vec<Vec<u128>> = (0..NDIM).map(values).collect();
        let mut points = vec![[0u128; NDIM]];
        for (k, vs) in vals.iter().enumerate() {
            let mut next = Vec::with_capacity(points.len() * vs.len());
            for p in &points {
                for &v in vs {
                    let mut q = *p;
                    q[k] = v;
                    next.push(q);
                }
            }
            points = next;
        }
        Domain { vals, points }
    }

    /// Indices of the domain points in `b` (same order as `points`).
    fn points_in(&self, b: &PBox) -> Vec<usize> {
        let mut idx = vec![0usize];
        for k in 0..NDIM {
            let vs = &self.vals[k];
            let hit: Vec<usize> = (0..vs.len())
                .filter(|&i| in_ranges(b.dim(k), vs[i]))
                .collect();
            let mut next = Vec::with_capacity(idx.len() * hit.len());
            for &i in &idx {
                for &h in &hit {
                    next.push(i * vs.len() + h);
                }
            }
            idx = next;
        }
        idx
    }
}

/// The built boxes of a case: target, list (with rule numbers) and the
/// expected answer per domain point (`None`: outside the target).
struct Built {
    target: PBox,
    boxes: Vec<(usize, PBox)>,
    expect: Vec<Option<Option<usize>>>,
}

fn build(case: &Case, dom: &Domain) -> Built {
    let target = pbox(&case.target);
    let mut boxes = Vec::new();
    let mut rule = 0usize;
    for (i, (d, same)) in case.list.iter().enumerate() {
        if i > 0 && !same {
            rule += 1;
        }
        boxes.push((rule, pbox(d)));
    }
    let expect = dom
        .points
        .iter()
        .map(|p| {
            contains(&target, p)
                .then(|| boxes.iter().find(|(_, b)| contains(b, p)).map(|&(r, _)| r))
        })
        .collect();
    Built {
        target,
        boxes,
        expect,
    }
}

fn tagged(boxes: &[(usize, PBox)]) -> Vec<Tagged<'_>> {
    boxes
        .iter()
        .map(|(rule, b)| Tagged { rule: *rule, b })
        .collect()
}

/// Checks the leaves against the expected answers: each leaf inside the
/// target, each of its points once and with the right tag. Returns how
/// often each point was covered.
fn check_leaves(
    dom: &Domain,
    built: &Built,
    leaves: &[(PBox, Option<usize>)],
) -> Result<Vec<u32>, TestCaseError> {
    let mut cover = vec![0u32; dom.points.len()];
    for (leaf, tag) in leaves {
        for k in 0..NDIM {
            prop_assert!(
                is_subset(leaf.dim(k), built.target.dim(k)),
                "leaf {:?} (tag {:?}) not inside the target on dimension {}",
                leaf,
                tag,
                k
            );
        }
        for i in dom.points_in(leaf) {
            let p = dom.points[i];
            prop_assert!(contains(leaf, &p));
            cover[i] += 1;
            prop_assert_eq!(
                cover[i],
                1,
                "point {:?} covered by more than one leaf (last {:?})",
                p,
                leaf
            );
            match built.expect[i] {
                None => {
                    return Err(TestCaseError::fail(format!(
                        "leaf {leaf:?} (tag {tag:?}) contains {p:?} outside the target"
                    )))
                }
                Some(want) => prop_assert_eq!(
                    *tag,
                    want,
                    "leaf {:?} has tag {:?} but point {:?} is first matched by {:?}",
                    leaf,
                    tag,
                    p,
                    want
                ),
            }
        }
    }
    Ok(cover)
}

fn config() -> Config {
    let cases = std::env::var("POL_PROP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn run(name: &str, test: impl Fn(&Case) -> Result<usize, TestCaseError>) {
    let cfg = config();
    let (cases, leaves) = (Cell::new(0usize), Cell::new(0usize));
    let mut runner = TestRunner::new(cfg.clone());
    let result = runner.run(&case_strategy(), |case| {
        let n = test(&case)?;
        cases.set(cases.get() + 1);
        leaves.set(leaves.get() + n);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    eprintln!(
        "{name}: {} random cases, {} leaves checked against exhaustive first match ({} points each)",
        cases.get(),
        leaves.get(),
        Domain::new().points.len()
    );
}

#[test]
fn walk_is_the_first_match_partition() {
    let dom = Domain::new();
    run("cells walk", |case| {
        let built = build(case, &dom);
        let list = tagged(&built.boxes);
        let budget = Cell::new(BUDGET);
        let mut leaves: Vec<(PBox, Option<usize>)> = Vec::new();
        let r = walk(&built.target, &list, &budget, &mut |c, t| {
            leaves.push((c.clone(), t));
            ControlFlow::Continue(())
        });
        prop_assert_eq!(r, Ok(ControlFlow::Continue(())));
        let cover = check_leaves(&dom, &built, &leaves)?;
        for (i, want) in built.expect.iter().enumerate() {
            if want.is_some() {
                prop_assert_eq!(
                    cover[i],
                    1,
                    "point {:?} of the target (first match {:?}) is in no leaf",
                    dom.points[i],
                    want.flatten()
                );
            }
        }
        // Stopping after the n-th leaf: exactly n visits, `Break` returned.
        let n = leaves.len().div_ceil(2).max(1);
        let calls = Cell::new(0usize);
        let r = walk(&built.target, &list, &Cell::new(BUDGET), &mut |_, _| {
            calls.set(calls.get() + 1);
            if calls.get() == n {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        prop_assert_eq!(r, Ok(ControlFlow::Break(())));
        prop_assert_eq!(calls.get(), n);
        Ok(leaves.len())
    });
}

#[test]
fn walk_pruned_skips_only_uninteresting_cells() {
    let dom = Domain::new();
    run("cells walk_pruned", |case| {
        let built = build(case, &dom);
        let list = tagged(&built.boxes);
        let interesting = |r: usize| r < 16 && case.interesting >> r & 1 == 1;
        let budget = Cell::new(BUDGET);
        let mut leaves: Vec<(PBox, Option<usize>)> = Vec::new();
        let r = walk_pruned(&built.target, &list, &budget, &interesting, &mut |c, t| {
            leaves.push((c.clone(), t));
            ControlFlow::Continue(())
        });
        prop_assert_eq!(r, Ok(ControlFlow::Continue(())));
        let cover = check_leaves(&dom, &built, &leaves)?;
        for (i, want) in built.expect.iter().enumerate() {
            // Points decided by an uninteresting rule may be skipped.
            let must = match want {
                None => false,
                Some(None) => true,
                Some(Some(r)) => interesting(*r),
            };
            if must {
                prop_assert_eq!(
                    cover[i],
                    1,
                    "point {:?} of the target (first match {:?}, interesting {:#b}) is in no leaf",
                    dom.points[i],
                    want.flatten(),
                    case.interesting
                );
            }
        }
        Ok(leaves.len())
    });
}

#[test]
fn break_stops_the_walk() {
    let full: Vec<Dims> = vec![(0..NDIM).map(|k| ranges_of_mask(k, u32::MAX)).collect()];
    let mut half: Dims = full[0].clone();
    half[4] = ranges_of_mask(4, 0b001);
    half[7] = ranges_of_mask(7, 0b110);
    let mut other: Dims = full[0].clone();
    other[5] = ranges_of_mask(5, 0b010);
    let lists: Vec<Vec<Dims>> = vec![
        vec![],
        full.clone(),
        vec![half.clone()],
        vec![half.clone(), other.clone()],
        vec![other.clone(), half.clone(), full[0].clone()],
    ];
    let targets: Vec<Dims> = vec![full[0].clone(), half.clone(), other.clone()];
    let mut checked = 0usize;
    for target in &targets {
        let target = pbox(target);
        for l in &lists {
            let boxes: Vec<(usize, PBox)> =
                l.iter().enumerate().map(|(i, d)| (i, pbox(d))).collect();
            let list = tagged(&boxes);
            let calls = Cell::new(0usize);
            let r = walk(&target, &list, &Cell::new(BUDGET), &mut |_, _| {
                calls.set(calls.get() + 1);
                ControlFlow::Break(())
            });
            assert_eq!(r, Ok(ControlFlow::Break(())));
            assert_eq!(calls.get(), 1, "target {target:?}, list {l:?}");
            // The same through `walk_pruned` with every rule interesting.
            calls.set(0);
            let r = walk_pruned(
                &target,
                &list,
                &Cell::new(BUDGET),
                &|_| true,
                &mut |_, _| {
                    calls.set(calls.get() + 1);
                    ControlFlow::Break(())
                },
            );
            assert_eq!(r, Ok(ControlFlow::Break(())));
            assert_eq!(calls.get(), 1, "target {target:?}, list {l:?}");
            checked += 1;
        }
    }
    eprintln!("cells break: {checked} cases, each stopped after exactly 1 leaf");
}
