"""Roll the generated templates out with CloudFormation StackSets, and rehearse it against moto."""
