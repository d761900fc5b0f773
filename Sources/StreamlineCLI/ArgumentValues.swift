import ArgumentParser
import Evaluation
import Streamline

// The library's choices, parsed from their raw values so that a flag's values are the
// library's names for them.
extension ImportanceMetric: ExpressibleByArgument {}
extension ReplacementKind: ExpressibleByArgument {}
extension TrainingLoss: ExpressibleByArgument {}
extension ReplacementInit: ExpressibleByArgument {}
extension SelectionKind: ExpressibleByArgument {}
extension TaskFormat: ExpressibleByArgument {}
extension GGUFExport.FileType: ExpressibleByArgument {}
