from workflow.bootstrap import App


def test_it_migrates_each_backend(app: App) -> None:
    assert app.init_database() == "0001"
