"""GFlowNets: the DAG environment protocol, a vectorised sampler, losses (one per file), backward
policies and exact evaluation on enumerable environments."""
