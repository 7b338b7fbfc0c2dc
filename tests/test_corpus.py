

def test_a_wrong_graph_fails_the_float_check():
    """The float comparison can fail: the same model with thresholds 10 % lower is caught."""
    import numpy as np
    import spikec
    from corpus_core import framework_output, frontend_graph, inputs, the_output
    from spikec.ir.nodes import LIF

    entry = corpus.by_id("snntorch-tutorial5-mlp")
    graph = frontend_graph(entry)
    lowered = graph.replace_nodes({n: v.replace(v_threshold=v.v_threshold * 0.9) for n, v in graph.items() if isinstance(v, LIF)})
    got = the_output(spikec.simulate(lowered, inputs(entry)), lowered)
    assert np.mean(got != framework_output(entry)) > 0.01
