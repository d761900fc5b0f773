import Checkpoint
import Foundation

/// The loss curve of replacement training, as JSON and SVG.
public enum TrainingChart {
  /// The files `write` makes.
  public static let files: Set<String> = ["training.json", "loss.svg"]

  /// Writes training.json and loss.svg into `folder`, part of an output being written
  /// (`OutputFolder`), which is committed whole.
  public static func write(_ report: TrainingReport, to folder: URL) throws {
    try OutputFolder.write(
      [
        ("training.json", Data(try Format.json(report).utf8)),
        ("loss.svg", Data(svg(report).utf8)),
      ], into: folder)
  }

  static func svg(_ report: TrainingReport) -> String {
    let train = report.curve.compactMap { p in p.loss.map { (Double(p.step), $0) } }
    let validation = report.curve.compactMap { p in p.validation.map { (Double(p.step), $0) } }
    var values = (train + validation).map(\.1)
    if let plain = report.plainRemovalValidation { values.append(plain) }
    let positive = values.filter { $0 > 0 }
    let low = log10(positive.min() ?? 1e-6)
    let high = log10(positive.max() ?? 1)
    let span = max(1e-9, high - low)
    let left = 80.0
    let top = 60.0
    let width = 640.0
    let height = 320.0
    var chart = SVG(width: left + width + 190, height: top + height + 70)
    chart.text(
      "Replacement training (\(report.options.loss.rawValue) loss, log scale)", x: left, y: 28,
      size: 15, weight: "bold")
    chart.text(
      String(
        format: "best validation %.5g at step %d of %d; %.0f tokens/s", report.bestValidation,
        report.bestStep, report.steps, report.tokensPerSecond), x: left, y: 46, size: 11,
      fill: "#555")
    let x = { (step: Double) in left + step / Double(max(1, report.steps)) * width }
    let y = { (v: Double) in top + (high - log10(max(v, 1e-30))) / span * height }
    for k in 0...4 {
      let value = pow(10, low + span * Double(k) / 4)
      chart.line(x1: left, y1: y(value), x2: left + width, y2: y(value), stroke: "#eee")
      chart.text(
        String(format: "%.3g", value), x: left - 8, y: y(value) + 4, size: 10, anchor: "end")
    }
    chart.line(x1: left, y1: top + height, x2: left + width, y2: top + height)
    chart.line(x1: left, y1: top, x2: left, y2: top + height)
    chart.text("0", x: left, y: top + height + 16, size: 10, anchor: "middle")
    chart.text("\(report.steps)", x: left + width, y: top + height + 16, size: 10, anchor: "middle")
    chart.text(
      "optimizer step", x: left + width / 2, y: top + height + 36, size: 12, anchor: "middle")
    if train.count > 1 {
      chart.polyline(train.map { (x($0.0), y($0.1)) }, stroke: "#1f77b4", width: 1.5)
    }
    chart.polyline(validation.map { (x($0.0), y($0.1)) }, stroke: "#ff7f0e", width: 2.5)
    for point in validation { chart.circle(x: x(point.0), y: y(point.1), r: 3, fill: "#ff7f0e") }
    if let plain = report.plainRemovalValidation {
      chart.line(
        x1: left, y1: y(plain), x2: left + width, y2: y(plain), stroke: "#d62728", width: 1.5,
        dash: "6 4")
    }
    let legend = [
      ("training", "#1f77b4"), ("validation", "#ff7f0e"), ("plain removal (validation)", "#d62728"),
    ]
    for (index, (name, color)) in legend.enumerated()
    where index < 2 || report.plainRemovalValidation != nil {
      let ly = top + 14 + Double(index) * 18
      chart.line(
        x1: left + width + 16, y1: ly - 4, x2: left + width + 36, y2: ly - 4, stroke: color,
        width: 2)
      chart.text(name, x: left + width + 42, y: ly, size: 11)
    }
    return chart.document
  }
}
