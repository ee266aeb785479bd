"""The evaluation's algorithms as pure functions over features, images and labels: the
protocols in ``evaluate/protocols/`` choose their settings on validation and call these."""
