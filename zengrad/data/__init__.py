"""Data: Dataset / DataLoader (as torch.utils.data), bundled offline datasets, IDX files and
feature scaling."""

from zengrad.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from zengrad.data.datasets import (
    CharVocab,
    OptionalDependencyError,
    Splits,
    char_sequences,
    get_dataset,
    list_datasets,
    load_breast_cancer,
    load_char_corpus,
    load_co2,
    load_diabetes,
    load_digits,
    load_iris,
    load_mnist,
    load_python_help,
    load_sunspots,
    load_wine,
    make_moons,
    make_noisy_sine,
    make_sequence_task,
    make_spirals,
    register_dataset,
    sliding_windows,
)
from zengrad.data.idx import IDXFormatError, read_idx, write_idx
from zengrad.data.loader import (
    DataLoader,
    WorkerInfo,
    default_collate,
    default_convert,
    get_worker_info,
)
from zengrad.data.preprocessing import MinMaxScaler, StandardScaler
from zengrad.data.sampler import (
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
