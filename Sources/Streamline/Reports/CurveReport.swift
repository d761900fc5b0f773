import Checkpoint
import Foundation

/// The removal curve of `streamline analyze --curve N` as a table, Markdown, JSON and an SVG
/// chart: held-out perplexity (top, log scale) and KL to the original (bottom) against the
/// number of layers removed, plain removal beside the training-free map.
public enum CurveReport {
  /// The files `write` makes.
  public static let files: Set<String> = ["analysis.json", "summary.md", "curve.svg"]

  /// Writes analysis.json, summary.md and curve.svg into `folder`, part of an output being
  /// written (`OutputFolder`), which is committed whole.
  public static func write(_ curve: RemovalCurve, model: String, to folder: URL) throws {
    try OutputFolder.write(
      [
        ("analysis.json", Data(try Format.json(curve).utf8)),
        ("summary.md", Data(markdown(curve, model: model).utf8)),
        ("curve.svg", Data(svg(curve, model: model).utf8)),
      ], into: folder)
  }

  static func layers(_ candidate: CurveCandidate) -> String {
    AnalysisReport.describe(candidate.layers)
  }

  static func percent(_ value: Double?) -> String {
    value.map { String(format: "%.1f%%", $0 * 100) } ?? "–"
  }

  /// What the numbers are measured on, in one or two lines.
  static func header(_ curve: RemovalCurve) -> [String] {
    let h = curve.heldOut
    let maps =
      curve.fitting.map {
        "linear maps fitted on \($0.fittingSequences) of \($0.trainingSequences) training sequences, as prune --replace linear fits them"
      } ?? "no linear map: \(curve.mapUnavailable ?? "not measured")"
    return [
      "held-out perplexity and KL(original ‖ pruned) on \(h.file): \(h.windows) windows of \(h.seqLen) tokens (\(h.tokens) tokens), as eval --perplexity \(h.file) --seq-len \(h.seqLen) --stride \(h.seqLen) scores them",
      "blocks chosen by \(curve.metric.rawValue) on \(curve.samples) calibration sequences (\(curve.scoredTokens) tokens); \(maps)",
      String(format: "original perplexity %.4f", curve.original),
    ]
  }

  /// The curve as a text table.
  public static func table(_ curve: RemovalCurve) -> String {
    var lines = header(curve) + [""]
    let withMaps = curve.hasMaps
    lines.append(
      "   n  params │ plain: layers  perplexity        KL"
        + (withMaps ? " │ linear: layers (map)  perplexity        KL  recovered" : ""))
    for point in curve.points {
      let plainLayers = layers(point.plain).padding(toLength: 13, withPad: " ", startingAt: 0)
      var line =
        String(format: "  %2d  %5.1f%% │ ", point.removed, point.parameterShare * 100)
        + plainLayers + String(format: "  %10.4f  %8.5f", point.plain.perplexity, point.plain.kl)
      if let linear = point.linear {
        line +=
          " │ "
          + "\(layers(linear)) (\(linear.mapLayer.map(String.init) ?? "–"))"
          .padding(toLength: 20, withPad: " ", startingAt: 0)
          + String(format: "  %10.4f  %8.5f  ", linear.perplexity, linear.kl)
          + percent(point.recovered).leftPadding(9)
      }
      lines.append(line)
    }
    return lines.joined(separator: "\n")
  }

  static func markdown(_ curve: RemovalCurve, model: String) -> String {
    let withMaps = curve.hasMaps
    let rows =
      withMaps
      ? """
      Each row is the model `prune --remove n` writes: plain removal of the best block of n \
      layers (`--replace none`), and the best block of n layers from layer 1 on with the \
      training-free map folded into the layer before it (`--replace linear`). *Recovered* is the \
      share of the log-perplexity plain removal loses that the map wins back.
      """
      : """
      Each row is the model `prune --remove n --replace none` writes: plain removal of the best \
      block of n layers. These layers cannot take the training-free map, so there is no map \
      beside it.
      """
    var out = """
      # How far to go: `\(model)`

      \(header(curve).joined(separator: ".\n")).

      \(rows)

      ![curve](curve.svg)

      | n | parameters | plain: layers | perplexity | KL |\(withMaps ? " linear: layers (map into) | perplexity | KL | recovered |" : "")
      | --- | --- | --- | --- | --- |\(withMaps ? " --- | --- | --- | --- |" : "")

      """
    for point in curve.points {
      out += String(
        format: "| %d | %.1f%% | %@ | %.4f | %.5f |", point.removed, point.parameterShare * 100,
        layers(point.plain), point.plain.perplexity, point.plain.kl)
      if let linear = point.linear {
        out += String(
          format: " %@ (%d) | %.4f | %.5f | %@ |", layers(linear), linear.mapLayer ?? -1,
          linear.perplexity, linear.kl, percent(point.recovered))
      }
      out += "\n"
    }
    out += String(format: "\nMeasured in %.1f s.\n", curve.seconds)
    return out
  }

  /// Round values between `low` and `high` for a log axis: 1, 2, 5 × 10^k, or finer steps
  /// when the range is too narrow for three of them.
  static func logTicks(_ low: Double, _ high: Double) -> [Double] {
    for mantissas in [[1.0, 2, 5], [1.0, 1.5, 2, 3, 4, 5, 6, 7, 8, 9]] {
      var ticks: [Double] = []
      var exponent = floor(log10(low))
      while pow(10, exponent) <= high * 1.0001 {
        for mantissa in mantissas {
          let value = mantissa * pow(10, exponent)
          if value >= low * 0.9999 && value <= high * 1.0001 { ticks.append(value) }
        }
        exponent += 1
      }
      if ticks.count >= 3 { return ticks }
    }
    // A range narrower still: evenly spaced round values.
    let step = niceStep((high - low) / 5)
    return stride(from: (low / step).rounded(.up) * step, through: high, by: step).map { $0 }
  }

  /// 1, 2 or 5 × 10^k, the nearest at or above `raw`.
  static func niceStep(_ raw: Double) -> Double {
    let power = pow(10, floor(log10(raw)))
    return ([1.0, 2, 5, 10].first { $0 * power >= raw * 0.9999 } ?? 10) * power
  }

  /// A tick value, in plain digits up to a million.
  static func tickLabel(_ value: Double) -> String {
    value >= 1 && value < 1e6 && value == value.rounded()
      ? String(format: "%.0f", value) : String(format: "%.3g", value)
  }

  static let plainColor = "#d62728"
  static let linearColor = "#1f77b4"

  /// Two panels over the same x axis (layers removed, with the share of parameters): held-out
  /// perplexity on a log scale with the original as a dashed line, and KL to the original.
  static func svg(_ curve: RemovalCurve, model: String) -> String {
    let points = curve.points
    let withMaps = curve.hasMaps
    let count = points.count
    let left = 80.0
    let plotWidth = 640.0
    let panelHeight = 250.0
    let top = 100.0
    let gap = 70.0
    var chart = SVG(width: left + plotWidth + 300, height: top + 2 * panelHeight + gap + 80)
    chart.text(
      "How far to go: \(URL(fileURLWithPath: model).lastPathComponent), 1 to \(count) of \(curve.numLayers) layers removed",
      x: left, y: 28,
      size: 16, weight: "bold")
    chart.text(
      "held-out \(curve.heldOut.file): \(curve.heldOut.tokens) tokens in windows of \(curve.heldOut.seqLen); blocks by \(curve.metric.rawValue); each point is the model prune --remove n writes",
      x: left, y: 47, size: 11, fill: "#555")
    chart.text(
      "hover a point for its layers and values", x: left, y: 63, size: 10, fill: "#888")
    let x = { (n: Double) in
      left + (count == 1 ? plotWidth / 2 : (n - 1) / Double(count - 1) * plotWidth)
    }

    func panel(
      top: Double, title: String, values: @escaping (CurvePoint) -> (Double, Double?),
      reference: Double?,
      format: String
    ) {
      var all = points.flatMap { [values($0).0] + [values($0).1].compactMap { $0 } }
      if let reference { all.append(reference) }
      let positive = all.filter { $0 > 0 && $0.isFinite }
      let rawLow = positive.min() ?? 1e-6
      let rawHigh = positive.max() ?? 1
      // A log scale with a little room above and below.
      let low = log10(rawLow) - 0.08 * max(0.3, log10(rawHigh / rawLow))
      let high = log10(rawHigh) + 0.08 * max(0.3, log10(rawHigh / rawLow))
      let y = { (v: Double) in top + (high - log10(max(v, 1e-30))) / (high - low) * panelHeight }
      chart.text(title, x: left, y: top - 10, size: 13, weight: "bold")
      for tick in logTicks(pow(10, low), pow(10, high)) {
        chart.line(x1: left, y1: y(tick), x2: left + plotWidth, y2: y(tick), stroke: "#eee")
        chart.text(
          tickLabel(tick), x: left - 8, y: y(tick) + 4, size: 10, anchor: "end")
      }
      for point in points {
        let px = x(Double(point.removed))
        chart.line(x1: px, y1: top, x2: px, y2: top + panelHeight, stroke: "#f4f4f4")
      }
      chart.line(x1: left, y1: top + panelHeight, x2: left + plotWidth, y2: top + panelHeight)
      chart.line(x1: left, y1: top, x2: left, y2: top + panelHeight)
      if let reference {
        chart.line(
          x1: left, y1: y(reference), x2: left + plotWidth, y2: y(reference), stroke: "#2ca02c",
          width: 1.5, dash: "6 4")
        chart.text(
          String(format: "original %@", String(format: format, reference)), x: left + plotWidth + 8,
          y: y(reference) + 4, size: 11, fill: "#2ca02c")
      }
      var series: [(String, String, (CurvePoint) -> (Double, CurveCandidate), Bool)] = [
        ("plain", plainColor, { (values($0).0, $0.plain) }, false)
      ]
      if withMaps {
        series.append(("linear", linearColor, { (values($0).1!, $0.linear!) }, true))
      }
      for (name, color, pick, isLinear) in series {
        chart.polyline(
          points.map { (x(Double($0.removed)), y(pick($0).0)) }, stroke: color, width: 2.5)
        for point in points {
          let (value, candidate) = pick(point)
          // The higher of the two points is labelled above, the lower below (one series: above).
          let (plainValue, linearValue) = values(point)
          let above =
            isLinear ? linearValue! > plainValue : plainValue >= (linearValue ?? -.infinity)
          let px = x(Double(point.removed))
          let map = candidate.mapLayer.map { ", map into layer \($0)" } ?? ""
          chart.circle(
            x: px, y: y(value), r: 3.5, fill: color,
            title: String(
              format: "%d removed, %@: layers %@%@; perplexity %.4f, KL %.5f", point.removed,
              name, layers(candidate), map, candidate.perplexity, candidate.kl))
          // Values beside the points when they have room.
          if count <= 16 {
            chart.text(
              String(format: format, value), x: px, y: y(value) + (above ? -8 : 15), size: 9,
              anchor: "middle", fill: color)
          }
        }
      }
    }

    panel(
      top: top, title: "Held-out perplexity (log scale, lower is better)",
      values: { ($0.plain.perplexity, $0.linear?.perplexity) }, reference: curve.original,
      format: "%.3g")
    let second = top + panelHeight + gap
    panel(
      top: second, title: "KL(original ‖ pruned), nats per token (log scale)",
      values: { ($0.plain.kl, $0.linear?.kl) }, reference: nil, format: "%.3g")

    // The shared x axis, with the share of parameters each count removes.
    let axis = second + panelHeight
    for point in points {
      let px = x(Double(point.removed))
      chart.text("\(point.removed)", x: px, y: axis + 16, size: 11, anchor: "middle")
      chart.text(
        String(format: "%.0f%%", point.parameterShare * 100), x: px, y: axis + 30, size: 9,
        anchor: "middle", fill: "#777")
    }
    chart.text(
      "layers removed (and share of parameters)", x: left + plotWidth / 2, y: axis + 50,
      size: 12, anchor: "middle")
    var legend = [("plain removal (--replace none)", plainColor)]
    if withMaps { legend.append(("training-free linear map (--replace linear)", linearColor)) }
    for (index, (name, color)) in legend.enumerated() {
      let ly = top + 14 + Double(index) * 18
      chart.line(
        x1: left + plotWidth + 40, y1: ly - 4, x2: left + plotWidth + 60, y2: ly - 4,
        stroke: color, width: 2.5)
      chart.text(name, x: left + plotWidth + 66, y: ly, size: 10)
    }
    if !withMaps {
      chart.text(
        "no linear map: these layers cannot take it", x: left + plotWidth + 40,
        y: top + 14 + Double(legend.count) * 18, size: 10, fill: "#777")
    }
    return chart.document
  }
}

extension String {
  /// The string right-aligned in `width` characters.
  func leftPadding(_ width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
