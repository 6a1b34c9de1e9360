"""Chemistry: RDKit scores and sample metrics, data files, fragment libraries and the fragment-molecule MDP,
and the sEH proxy. Everything here needs the `chem` extra (RDKit), imported lazily."""
