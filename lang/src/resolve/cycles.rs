//! Cycle finding for the import and definition graphs: strongly connected
//! components (petgraph's Tarjan), each turned into one concrete cycle to
//! print, in a stable order.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::collections::{HashSet, VecDeque};

/// One cycle per cyclic component: the edges `(from, to, weight)` in order,
/// starting at the component's smallest node; `last().1 == first().0`.
pub fn find_cycles<N, E: Clone>(g: &DiGraph<N, E>) -> Vec<Vec<(NodeIndex, NodeIndex, E)>> {
    find_cycles_by(g, |n| n)
}

/// [`find_cycles`], each cycle starting at the node of its component with
/// the smallest `key` (e.g. the file name, so that a cycle is spelled the
/// same whichever file the search came from). Linear in the graph.
pub fn find_cycles_by<N, E: Clone, K: Ord>(
    g: &DiGraph<N, E>,
    key: impl Fn(NodeIndex) -> K,
) -> Vec<Vec<(NodeIndex, NodeIndex, E)>> {
    let mut out = Vec::new();
    for scc in tarjan_scc(g) {
        let set: HashSet<NodeIndex> = scc.iter().copied().collect();
        let Some(&start) = scc.iter().min_by_key(|&&n| (key(n), n)) else {
            continue;
        };
        let self_loop = g
            .edges(start)
            .find(|e| e.target() == start)
            .map(|e| e.weight().clone());
        if scc.len() == 1 {
            if let Some(w) = self_loop {
                out.push(vec![(start, start, w)]);
            }
            continue;
        }
        // BFS inside the component from `start` back to `start`.
        let mut prev: std::collections::HashMap<NodeIndex, (NodeIndex, E)> =
            std::collections::HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut closing: Option<(NodeIndex, E)> = None;
        'bfs: while let Some(n) = queue.pop_front() {
            let mut edges: Vec<_> = g.edges(n).filter(|e| set.contains(&e.target())).collect();
            edges.sort_by_key(|e| e.target());
            for e in edges {
                let t = e.target();
                if t == start {
                    closing = Some((n, e.weight().clone()));
                    break 'bfs;
                }
                if t != start && !prev.contains_key(&t) {
                    prev.insert(t, (n, e.weight().clone()));
                    queue.push_back(t);
                }
            }
        }
        let Some((last, w)) = closing else { continue };
        let mut path = vec![(last, start, w)];
        let mut cur = last;
        while cur != start {
            let Some((p, w)) = prev.get(&cur).cloned() else {
                break;
            };
            path.push((p, cur, w));
            cur = p;
        }
        path.reverse();
        out.push(path);
    }
    out.sort_by_key(|c| c.first().map(|e| (key(e.0), e.0)));
    out
}

/// The components of `g` in dependency order (a node's targets before it),
/// with the nodes that lie on a cycle.
pub fn order<N, E>(g: &DiGraph<N, E>) -> (Vec<NodeIndex>, HashSet<NodeIndex>) {
    let mut order = Vec::new();
    let mut cyclic = HashSet::new();
    for scc in tarjan_scc(g) {
        let is_cycle = scc.len() > 1 || scc.iter().any(|&n| g.edges(n).any(|e| e.target() == n));
        if is_cycle {
            cyclic.extend(scc.iter().copied());
        }
        order.extend(scc);
    }
    (order, cyclic)
}
