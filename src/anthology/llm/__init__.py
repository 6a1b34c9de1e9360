"""Language models as components: LLM-written code run in a sandbox (and, to come, annotators and code
writers behind one protocol)."""
