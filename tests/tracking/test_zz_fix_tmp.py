def test_fixture(trained_workspace):
    print(trained_workspace.register)
