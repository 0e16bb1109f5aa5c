"""The package's top level exports what the README's examples import."""
import kprod


def test_top_level_exports_resolve():
    for name in kprod.__all__:
        assert getattr(kprod, name) is not None, name


def test_readme_quick_example_names():
    from kprod import Producer, ProducerRecord, RecordMetadata  # noqa: F401
    from kprod.errors import KafkaError

    assert issubclass(kprod.ProducerFencedError, KafkaError)
    assert kprod.__version__
