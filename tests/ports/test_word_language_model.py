"""pytorch/examples word_language_model: main.py run whole as a script, on a tiny corpus.

RNNModel (LSTM/GRU/RNN_TANH, tie_weights), TransformerModel (an nn.Transformer subclass with
PositionalEncoding), batchify's narrow/view/t, truncated BPTT (repackage_hidden),
clip_grad_norm_, the by-hand update p.data.add_(p.grad, alpha=-lr) or AdamW, lr /= 4 on a
worse validation loss, torch.save(model, f) and the reload under
torch.serialization.safe_globals. The losses main.py leaves in its globals must match torch.
"""

import sys

import pytest

from ._common import assert_losses_close
from ._program import float64_default, load, run_main, state_to_numpy

# made-up text (the example reads wikitext-2; nothing is downloaded)
# (evaluation batches are 10 wide: valid and test need at least 2 rows of 10 tokens)
TEXT = {
    "train.txt": "the cat sat on the mat\nthe dog sat on the log\na cat and a dog ran\n"
                 "the mat is on the log\na dog sat on a cat\nthe log and the mat\n",
    "valid.txt": "the dog ran on the mat\na cat sat\nthe cat and the dog sat on a log\n"
                 "a mat is on the dog\nthe log ran\n",
    "test.txt": "the cat ran on a log\nthe dog and the cat sat\na mat and a log sat on the cat\n"
                "the dog is a cat\n",
}
SMALL = ["--emsize", "8", "--nhid", "8", "--nlayers", "2", "--epochs", "3", "--batch_size",
         "3", "--bptt", "4", "--dropout", "0", "--log-interval", "1", "--save", "model.pt"]
CASES = {
    "LSTM-tied": ["--model", "LSTM", "--tied", "--lr", "5"],
    "GRU-AdamW": ["--model", "GRU", "--use-optimizer", "--lr", "0.01"],
    "RNN_TANH": ["--model", "RNN_TANH", "--lr", "2"],
    # nn.Transformer keeps its dropout of 0.1 (draws differ): lr 0 leaves the weights as they
    # start, the evaluations (eval mode) compare; the training loop still runs
    "Transformer": ["--model", "Transformer", "--nhead", "2", "--lr", "0"],
}


def run_example(lib, framework, folder, monkeypatch, argv, start):
    """main.py in `folder`; `start` records (torch) or gives (zengrad) the first weights."""
    for name, text in TEXT.items():
        (folder / "corpus").mkdir(exist_ok=True)
        (folder / "corpus" / name).write_text(text)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "argv", ["main.py", "--data", "corpus", *SMALL, *argv])
    model_module = load("wlm_model", framework, module_name="model")
    for cls in (model_module.RNNModel, model_module.TransformerModel):
        init = cls.__init__

        def same_start(self, *args, init=init, **kwargs):
            init(self, *args, **kwargs)
            if framework == "torch":
                start.update(state_to_numpy(self))
            else:
                self.load_state_dict(start)

        # on the class itself: main.py's `super(RNNModel, self)` still finds the original
        cls.__init__ = same_start
    with float64_default(lib):
        data_module = load("wlm_data", framework, module_name="data")
        main = run_main("wlm_main", framework,
                        imports={"model": model_module, "data": data_module})
    return [main.best_val_loss, main.val_loss, main.test_loss, main.lr]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # torch's, about speed
def test_word_language_model_matches_torch(case, tmp_path, monkeypatch, capsys):
    import zengrad

    torch = pytest.importorskip("torch")
    start: dict = {}
    (tmp_path / "torch").mkdir()
    (tmp_path / "zengrad").mkdir()
    ref = run_example(torch, "torch", tmp_path / "torch", monkeypatch, CASES[case], start)
    got = run_example(zengrad, "zengrad", tmp_path / "zengrad", monkeypatch, CASES[case], start)
    assert "End of training" in capsys.readouterr().out
    assert_losses_close(ref, got)
