from posthouse.cli import main

main()
