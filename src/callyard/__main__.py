from callyard.cli.main import main

main()
