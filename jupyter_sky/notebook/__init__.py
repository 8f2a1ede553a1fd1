"""What the user touches: the %%sky magics, %sky subcommands, the placement widget and status line."""
