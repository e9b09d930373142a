"""examples/quickstart.ipynb runs as a reader runs it: nbclient, a fresh Python 3 kernel,
examples/ as the working directory; so the notebook cannot go stale as the API changes."""

from pathlib import Path

import nbclient  # requirements-test.txt installs both: CI runs the notebook
import nbformat
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def outputs(notebook, kind):
    """Every code cell's outputs of ``output_type`` ``kind``, in order."""
    return [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == kind
    ]


@pytest.mark.slow
def test_the_quickstart_notebook_trains_plots_acts_evaluates_saves_and_loads():
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    before = sorted(path.name for path in EXAMPLES.iterdir())
    # "python3" is ipykernel's own kernel (jupyter_client's native one): no kernelspec needed.
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if one fails

    assert not outputs(notebook, "error")
    printed = "".join(o.text for o in outputs(notebook, "stream") if o.name == "stdout")
    assert "the run's files:" in printed and "model_CartPole-v1.weights.h5" in printed
    assert "played one episode: return" in printed
    assert "greedy return over 20 episodes:" in printed
    assert "it acts as the original on 400 observations: True" in printed
    figures = [o for o in outputs(notebook, "display_data") if "image/png" in o.data]
    assert len(figures) == 1  # the learning curve, shown inline
    # The run's files went to a temporary directory, none into the repository.
    assert sorted(path.name for path in EXAMPLES.iterdir()) == before
