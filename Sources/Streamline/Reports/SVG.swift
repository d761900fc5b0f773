import Foundation

/// A minimal SVG writer for the reports: no dependencies, deterministic output.
public struct SVG {
  public let width: Double
  public let height: Double
  var body: [String] = []

  public init(width: Double, height: Double) {
    self.width = width
    self.height = height
  }

  static func number(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
  }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;")
  }

  public mutating func rect(
    x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String? = nil,
    strokeWidth: Double = 1, title: String? = nil
  ) {
    var element =
      "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" fill=\"\(fill)\""
    if let stroke {
      element += " stroke=\"\(stroke)\" stroke-width=\"\(Self.number(strokeWidth))\""
    }
    if let title {
      element += "><title>\(Self.escape(title))</title></rect>"
    } else {
      element += "/>"
    }
    body.append(element)
  }

  public mutating func line(
    x1: Double, y1: Double, x2: Double, y2: Double, stroke: String = "#999", width: Double = 1,
    dash: String? = nil
  ) {
    body.append(
      "<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" x2=\"\(Self.number(x2))\" y2=\"\(Self.number(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(Self.number(width))\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>"
    )
  }

  public mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2) {
    let list = points.map { "\(Self.number($0.0)),\(Self.number($0.1))" }.joined(separator: " ")
    body.append(
      "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(Self.number(width))\" stroke-linejoin=\"round\"/>"
    )
  }

  public mutating func circle(
    x: Double, y: Double, r: Double, fill: String, stroke: String = "none", title: String? = nil
  ) {
    let element =
      "<circle cx=\"\(Self.number(x))\" cy=\"\(Self.number(y))\" r=\"\(Self.number(r))\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"2\""
    body.append(
      title.map { element + "><title>\(Self.escape($0))</title></circle>" } ?? element + "/>")
  }

  public mutating func text(
    _ content: String, x: Double, y: Double, size: Double = 12, anchor: String = "start",
    weight: String = "normal", fill: String = "#222", rotate: Double? = nil
  ) {
    let transform =
      rotate.map { " transform=\"rotate(\(Self.number($0)) \(Self.number(x)) \(Self.number(y)))\"" }
      ?? ""
    body.append(
      "<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" font-size=\"\(Self.number(size))\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"\(fill)\"\(transform)>\(Self.escape(content))</text>"
    )
  }

  public var document: String {
    """
    <svg xmlns="http://www.w3.org/2000/svg" width="\(Self.number(width))" height="\(Self.number(height))" viewBox="0 0 \(Self.number(width)) \(Self.number(height))" font-family="Helvetica, Arial, sans-serif">
    <rect width="100%" height="100%" fill="white"/>
    \(body.joined(separator: "\n"))
    </svg>

    """
  }

  /// Viridis, from 0 (dark blue) to 1 (yellow): perceptually even and readable in grey.
  public static func viridis(_ t: Double) -> String {
    let stops: [(Double, Double, Double)] = [
      (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
      (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
    ]
    let x = min(1, max(0, t.isNaN ? 0 : t)) * Double(stops.count - 1)
    let i = min(stops.count - 2, Int(x))
    let f = x - Double(i)
    let (a, b) = (stops[i], stops[i + 1])
    let channel = { (p: Double, q: Double) in Int((p + (q - p) * f).rounded()) }
    return String(
      format: "#%02x%02x%02x", channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
  }

  /// A categorical palette for line charts.
  public static let palette = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
  ]
}
